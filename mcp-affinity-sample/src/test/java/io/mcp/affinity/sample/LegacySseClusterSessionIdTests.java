package io.mcp.affinity.sample;

import java.util.List;
import java.util.Map;

import io.mcp.affinity.core.RoutedSessionId;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.sample.McpClients.Client;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The legacy HTTP+SSE suite with {@code mcp.affinity.ownership=session-id}: the endpoint event announces a routed id. */
class LegacySseClusterSessionIdTests extends LegacySseClusterTests {

	@Override
	protected List<String> instanceArguments() {
		return List.of("--mcp.affinity.ownership=session-id");
	}

	@Test
	void theEndpointEventAnnouncesAnIdThatNamesTheOwner() {
		try (Client client = McpClients.legacySse(frontDoor())) {
			client.call("remember", Map.of("key", "k", "value", "v"));
			assertThat(RoutedSessionId.parse(SessionId.of(client.sessionId.get()))).isNotNull();
		}
	}

}
