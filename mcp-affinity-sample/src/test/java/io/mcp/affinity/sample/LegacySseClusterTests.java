package io.mcp.affinity.sample;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import io.mcp.affinity.sample.McpClients.Client;
import io.mcp.affinity.sample.cluster.RoundRobinFrontDoor.Routed;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The legacy HTTP+SSE transport (MCP 2024-11-05) across three instances: the session lives where the GET stream
 * lives, and the client's POSTs, carrying {@code ?sessionId=}, land anywhere.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LegacySseClusterTests {

	private InProcessCluster cluster;

	@BeforeAll
	void startCluster() {
		this.cluster = new InProcessCluster(3, "--spring.ai.mcp.server.protocol=SSE");
	}

	@AfterAll
	void stopCluster() {
		this.cluster.close();
	}

	@Test
	void postsOfALegacySessionReachTheInstanceHoldingItsStream() {
		try (Client client = McpClients.legacySse(this.cluster.frontDoor())) {
			client.call("remember", Map.of("key", "colour", "value", "teal"));
			String owner = client.call("session_info", Map.of());
			for (int i = 0; i < 6; i++) {
				assertThat(client.call("recall", Map.of("key", "colour"))).isEqualTo("teal");
			}
			assertThat(client.call("ask_client", Map.of("question", "legacy?"))).isEqualTo("echo: legacy?");
			assertThat(client.call("session_info", Map.of())).contains(instanceOf(owner)).contains("\"calls\":10");

			String session = client.sessionId.get();
			Set<Integer> postedTo = new HashSet<>();
			for (Routed routed : this.cluster.frontDoorRecord().routed()) {
				if (routed.method().equals("POST") && routed.uri().contains("sessionId=" + session)) {
					postedTo.add(routed.instance());
				}
			}
			assertThat(postedTo).containsExactlyInAnyOrder(0, 1, 2);
		}
	}

	private static String instanceOf(String sessionInfo) {
		return sessionInfo.substring(sessionInfo.indexOf("\"instance\""), sessionInfo.indexOf(",\"calls\""));
	}

}
