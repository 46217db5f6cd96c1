package io.mcp.affinity.web;

/**
 * Every forwarding test on WebFlux without a tracer, as most applications run: forwards are then made before Spring's
 * web handler, on Reactor Netty's request and response ({@link SessionForwardingHttpHandler}).
 */
class OwnerForwardingWithoutTracerTests extends OwnerForwardingTests {

	@Override
	protected String alsoExcluded() {
		return NO_TRACER;
	}

	@Override
	protected boolean tracesForwards() {
		return false;
	}

	@Override
	protected boolean forwardsBeforeServerObservation() {
		return true;
	}

}
