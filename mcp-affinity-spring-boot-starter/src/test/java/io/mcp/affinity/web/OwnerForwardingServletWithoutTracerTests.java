package io.mcp.affinity.web;

/**
 * Every forwarding test on the servlet stack without a tracer, as most applications run: forwards are then made ahead
 * of the server observation filter too, the owner observing the request.
 */
class OwnerForwardingServletWithoutTracerTests extends OwnerForwardingServletTests {

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
