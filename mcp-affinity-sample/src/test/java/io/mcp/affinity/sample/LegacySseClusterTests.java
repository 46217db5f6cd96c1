package io.mcp.affinity.sample;

import java.net.URI;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
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
		List<String> arguments = new ArrayList<>(List.of("--spring.ai.mcp.server.protocol=SSE"));
		arguments.addAll(instanceArguments());
		this.cluster = new InProcessCluster(3, arguments.toArray(String[]::new));
	}

	/**
	 * What every instance is started with besides the defaults: its ownership mode and web stack (none here: store
	 * ownership on WebFlux). A subclass runs the suite with others.
	 * @return arguments for every instance
	 */
	protected List<String> instanceArguments() {
		return List.of();
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
			// The tools see the transport's id; the client was told (and uses) the one the cluster routes.
			assertThat(client.call("session_info", Map.of()))
				.contains("\"sessionId\":\"" + ThreeInstanceClusterTests.transportId(session) + "\"");
			Set<Integer> postedTo = new HashSet<>();
			for (Routed routed : this.cluster.frontDoorRecord().routed()) {
				if (routed.method().equals("POST") && routed.uri().contains("sessionId=" + session)) {
					postedTo.add(routed.instance());
				}
			}
			assertThat(postedTo).containsExactlyInAnyOrder(0, 1, 2);
		}
	}

	/** The cluster's front door, for the tests of a subclass. */
	protected URI frontDoor() {
		return this.cluster.frontDoor();
	}

	private static String instanceOf(String sessionInfo) {
		return sessionInfo.substring(sessionInfo.indexOf("\"instance\""), sessionInfo.indexOf(",\"calls\""));
	}

}
