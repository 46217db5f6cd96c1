package io.mcp.affinity.sample;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.RoutedSessionId;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.sample.McpClients.Client;
import io.micrometer.core.instrument.MeterRegistry;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The three-instance suite with {@code mcp.affinity.ownership=session-id}: every session's id names its owner, so
 * routing reads no store. Plus what only this mode promises.
 */
class ThreeInstanceClusterSessionIdTests extends ThreeInstanceClusterTests {

	@Override
	protected List<String> instanceArguments() {
		return List.of("--mcp.affinity.ownership=session-id");
	}

	@Test
	@Order(6)
	void idsNameTheirOwnerAndNoRequestReadsOrWritesTheStore() throws Exception {
		long storeAccessesBefore = storeAccesses();
		List<Client> clients = new ArrayList<>();
		try {
			for (int i = 0; i < 4; i++) {
				clients.add(McpClients.streamable(cluster().frontDoor()));
			}
			for (Client client : clients) {
				SessionId id = SessionId.of(client.sessionId.get());
				RoutedSessionId routed = RoutedSessionId.parse(id);
				assertThat(routed).as("the id the client got names its owner").isNotNull();
				String owner = sessionInfo(client).instance();
				InstanceIdentity ownerIdentity = cluster().instance(cluster().indexOf(owner))
					.getBean(InstanceIdentity.class);
				assertThat(routed.ownerEpoch()).isEqualTo(ownerIdentity.epoch());
				for (int call = 0; call < 6; call++) {
					client.call("remember", Map.of("key", "k", "value", "v" + call));
					assertThat(sessionInfo(client).instance()).isEqualTo(owner);
				}
			}
			assertThat(storeAccesses()).as("ownership store look-ups and writes").isEqualTo(storeAccessesBefore);
			assertThat(cluster().instance(0).getBean(TwoTierOwnershipStore.class).localSessionCount()).isZero();
			// What an operator's dashboard shows instead: the sessions each instance created, counted by their id.
			double routed = 0;
			for (int i = 0; i < cluster().addresses().size(); i++) {
				routed += cluster().instance(i)
					.getBean(MeterRegistry.class)
					.get("mcp.affinity.sessions.owned")
					.tag("ownership", "session-id")
					.gauge()
					.value();
			}
			assertThat(routed).isGreaterThanOrEqualTo(clients.size());
			// The operator's look-up reads the owner from the id.
			String session = clients.get(0).sessionId.get();
			URI instance = cluster().addresses().get(0);
			HttpResponse<String> lookup = RawMcp.HTTP.send(HttpRequest.newBuilder(instance.resolve("/actuator/mcpaffinity"))
				.header("Content-Type", "application/json")
				.POST(HttpRequest.BodyPublishers.ofString("{\"sessionId\":\"" + session + "\"}"))
				.build(), HttpResponse.BodyHandlers.ofString());
			assertThat(lookup.body()).contains("\"ownership\":\"session-id\"")
				.contains("\"ownerAddress\":\"" + sessionInfo(clients.get(0)).instance() + "\"")
				.contains("\"ownerLive\":true")
				.doesNotContain(session)
				.doesNotContain(transportId(session));
		}
		finally {
			clients.forEach(Client::close);
		}
	}

	@Test
	@Order(6)
	void theTransportsOwnIdIsNoSessionToTheCluster() throws Exception {
		String session = RawMcp.initialize(cluster().addresses().get(0));
		for (URI instance : cluster().addresses()) {
			assertThat(RawMcp.post(instance, session, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}")
				.statusCode()).isEqualTo(200);
			// The id the transport minted is never handed out, and a client that strips the token finds nothing.
			assertThat(RawMcp.post(instance, transportId(session), "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}")
				.statusCode()).as("answer of %s", instance).isEqualTo(404);
		}
	}

	private long storeAccesses() {
		long total = 0;
		for (int i = 0; i < cluster().addresses().size(); i++) {
			TwoTierOwnershipStore.Statistics statistics = cluster().instance(i)
				.getBean(TwoTierOwnershipStore.class)
				.statistics();
			total += statistics.l1Hits() + statistics.l2Hits() + statistics.l2Misses() + statistics.l2Errors();
		}
		return total;
	}

}
