package io.mcp.affinity.sample;

import java.util.List;

import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.springframework.boot.web.server.context.WebServerApplicationContext;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The three-instance suite on a mixed cluster: the middle instance on the servlet stack (Tomcat), the others on
 * WebFlux (Netty), as during a migration from one stack to the other. Sessions of either stack are forwarded from
 * either stack.
 */
class MixedStackClusterTests extends ThreeInstanceClusterTests {

	@Override
	protected List<String> instanceArguments(int index) {
		return (index == 1) ? List.of("--spring.main.web-application-type=servlet") : List.of();
	}

	@Test
	@Order(0)
	void theClusterRunsBothStacks() {
		List<String> servers = List.of(0, 1, 2)
			.stream()
			.map((i) -> ((WebServerApplicationContext) cluster().instance(i)).getWebServer().getClass().getSimpleName())
			.toList();
		assertThat(servers).containsExactly("NettyWebServer", "TomcatWebServer", "NettyWebServer");
	}

}
