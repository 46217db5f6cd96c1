package io.mcp.affinity.web;

/**
 * Every forwarding test on WebFlux without a tracer, as most applications run: forwards are then made before Spring's
 * web handler, on Reactor Netty's request and response ({@link SessionForwardingHttpHandler}).
 */
class OwnerForwardingWithoutTracerTests extends OwnerForwardingTests {

	// Brave is on the test class path: its auto-configurations, and the no-op tracer's, are left out.
	@Override
	protected String alsoExcluded() {
		return ",org.springframework.boot.micrometer.tracing.brave.autoconfigure.BraveAutoConfiguration"
				+ ",org.springframework.boot.micrometer.tracing.autoconfigure.MicrometerTracingAutoConfiguration"
				+ ",org.springframework.boot.micrometer.tracing.autoconfigure.NoopTracerAutoConfiguration";
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
