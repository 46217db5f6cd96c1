package io.mcp.affinity.web;

/**
 * Every forwarding test on the servlet stack without a tracer, as most applications run: forwards are then made ahead
 * of the server observation filter too, the owner observing the request.
 */
class OwnerForwardingServletWithoutTracerTests extends OwnerForwardingServletTests {

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
