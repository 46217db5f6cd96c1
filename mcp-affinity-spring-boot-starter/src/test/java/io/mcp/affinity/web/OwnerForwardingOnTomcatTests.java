package io.mcp.affinity.web;

import org.junit.jupiter.api.Test;
import org.springframework.boot.tomcat.TomcatWebServer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every forwarding test on WebFlux served by Tomcat rather than Reactor Netty, without a tracer: the forward made
 * before Spring's web handler needs Reactor Netty's request and response, so here the router filter forwards (after the
 * application's filters), through the exchange.
 */
class OwnerForwardingOnTomcatTests extends OwnerForwardingWithoutTracerTests {

	// Reactor Netty's server is left out, so Boot starts Tomcat's reactive one (both are on the test class path).
	@Override
	protected String alsoExcluded() {
		return super.alsoExcluded()
				+ ",org.springframework.boot.reactor.netty.autoconfigure.NettyReactiveWebServerAutoConfiguration";
	}

	@Override
	protected boolean forwardsBeforeApplicationFilters() {
		return false;
	}

	@Override
	protected boolean forwardsBeforeServerObservation() {
		return false;
	}

	@Test
	void theInstanceRunsOnTomcat() {
		assertThat(webServer()).isInstanceOf(TomcatWebServer.class);
	}

}
