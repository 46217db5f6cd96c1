package io.mcp.affinity.sample;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import io.mcp.affinity.core.test.TestRedis.EmbeddedRedis;
import io.mcp.affinity.sample.McpClients.Client;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.search.Search;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What an operator sees, from real traffic through two instances: metrics, log events, the {@code mcpaffinity}
 * endpoint, and health when Redis goes away (a Redis of the test's own, really stopped).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@ExtendWith(OutputCaptureExtension.class)
class ObservabilityTests {

	private static final Pattern AFFINITY_LOGGER = Pattern.compile(" i\\.m\\.a(ffinity)?\\.");

	private final HttpClient http = HttpClient.newHttpClient();

	private EmbeddedRedis redis;

	private InProcessCluster cluster;

	@BeforeAll
	void startCluster() {
		this.redis = EmbeddedRedis.start();
		List<String> arguments = new ArrayList<>(List.of("--logging.level.io.mcp.affinity=DEBUG"));
		arguments.addAll(instanceArguments());
		this.cluster = new InProcessCluster(2, "127.0.0.1", this.redis.port(), arguments.toArray(String[]::new));
	}

	/**
	 * What every instance is started with besides the defaults: nothing here (WebFlux). A subclass runs the tests on
	 * the other stack.
	 * @return arguments for every instance
	 */
	protected List<String> instanceArguments() {
		return List.of();
	}

	@AfterAll
	void stopCluster() {
		this.cluster.close();
		this.redis.stop();
	}

	private double count(int instance, String name, String... tags) {
		MeterRegistry registry = this.cluster.instance(instance).getBean(MeterRegistry.class);
		return Search.in(registry).name(name).tags(tags).counters().stream().mapToDouble((c) -> c.count()).sum()
				+ Search.in(registry).name(name).tags(tags).functionCounters().stream().mapToDouble((c) -> c.count()).sum()
				+ Search.in(registry).name(name).tags(tags).timers().stream().mapToDouble((t) -> t.count()).sum();
	}

	private double total(String name, String... tags) {
		return count(0, name, tags) + count(1, name, tags);
	}

	@Test
	@Order(1)
	void trafficShowsUpInMetricsAndLogEventsWithoutWholeSessionIds(CapturedOutput output) {
		try (Client client = McpClients.streamable(this.cluster.frontDoor())) {
			for (int i = 0; i < 5; i++) {
				client.call("remember", Map.of("key", "k" + i, "value", "v"));
			}
			String session = client.sessionId.get();
			String owner = ownerOf(client);

			assertThat(total("mcp.affinity.requests", "decision", "sessionless")).isGreaterThanOrEqualTo(1);
			assertThat(total("mcp.affinity.requests", "decision", "local")).isGreaterThanOrEqualTo(3);
			double forwarded = total("mcp.affinity.requests", "decision", "forwarded");
			assertThat(forwarded).isGreaterThanOrEqualTo(3);
			// Every forward succeeded, but for the client's GET stream, whose headers wait for its first event.
			assertThat(total("mcp.affinity.forwards", "outcome", "success")).isBetween(forwarded - 1, forwarded);
			// No tracer here: forwards are timed by mcp.affinity.forwards only, not observed again as client requests.
			assertThat(total("http.client.requests")).isZero();
			assertThat(total("mcp.affinity.store.lookups", "tier", "l1", "result", "hit")).isGreaterThanOrEqualTo(5);
			assertThat(total("mcp.affinity.store.lookups", "tier", "l2", "result", "hit")).isGreaterThanOrEqualTo(1);
			int ownerIndex = this.cluster.indexOf(owner);
			MeterRegistry ownerRegistry = this.cluster.instance(ownerIndex).getBean(MeterRegistry.class);
			assertThat(ownerRegistry.get("mcp.affinity.sessions.owned").tag("ownership", "store").gauge().value()).isGreaterThanOrEqualTo(1);
			assertThat(ownerRegistry.get("mcp.affinity.store.degraded").gauge().value()).isZero();

			assertThat(output).contains("SessionEstablished session=#")
				.contains("ForwardingRequest session=#")
				.contains("ResolvingSessionOwner session=#");
			// Our loggers never print a session id whole (the MCP SDK's own loggers do, which is not ours to change).
			assertThat(output.toString().lines().filter((line) -> AFFINITY_LOGGER.matcher(line).find()))
				.isNotEmpty()
				.noneMatch((line) -> line.contains(session));
		}
	}

	@Test
	@Order(2)
	void endpointDescribesTheInstanceTheClusterAndOneSessionsOwner() throws Exception {
		try (Client client = McpClients.streamable(this.cluster.frontDoor())) {
			describeAndLookUp(client.sessionId.get(), ownerOf(client));
		}
	}

	private void describeAndLookUp(String session, String sessionOwner) throws Exception {
		URI instance = this.cluster.addresses().get(0);
		JsonNode description = json(this.http.send(HttpRequest.newBuilder(instance.resolve("/actuator/mcpaffinity")).build(),
				HttpResponse.BodyHandlers.ofString()));
		assertThat(description.has("instance")).as(description.toString()).isTrue();
		assertThat(description.get("instance").get("address").asString()).isEqualTo(instance.toString());
		assertThat(description.get("liveInstances")).hasSize(2);
		assertThat(description.get("store").get("type").asString()).isEqualTo("redis");
		assertThat(description.get("store").get("l2").asString()).isEqualTo("up");

		HttpResponse<String> lookup = this.http.send(HttpRequest.newBuilder(instance.resolve("/actuator/mcpaffinity"))
			.header("Content-Type", "application/json")
			.POST(HttpRequest.BodyPublishers.ofString("{\"sessionId\":\"" + session + "\"}"))
			.build(), HttpResponse.BodyHandlers.ofString());
		JsonNode owner = json(lookup);
		assertThat(owner.has("ownerAddress")).as(owner.toString()).isTrue();
		assertThat(owner.get("ownerAddress").asString()).isEqualTo(sessionOwner);
		assertThat(owner.get("ownerLive").asBoolean()).isTrue();
		assertThat(lookup.body()).doesNotContain(session);
	}

	@Test
	@Order(3)
	void withRedisStoppedHealthStaysUpAndReportsTheStoreDegraded() {
		URI instance = this.cluster.addresses().get(1);
		this.redis.stop();
		await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(250)).untilAsserted(() -> {
			JsonNode health = json(this.http.send(
					HttpRequest.newBuilder(instance.resolve("/actuator/health/mcpAffinity")).build(),
					HttpResponse.BodyHandlers.ofString()));
			assertThat(health.get("status").asString()).isEqualTo("UP");
			assertThat(health.get("details").get("l2").asString()).isEqualTo("degraded");
		});
		MeterRegistry registry = this.cluster.instance(1).getBean(MeterRegistry.class);
		assertThat(registry.get("mcp.affinity.store.degraded").gauge().value()).isEqualTo(1);
	}

	private static String ownerOf(Client client) {
		String info = client.call("session_info", Map.of());
		return info.substring(info.indexOf("\"instance\":\"") + 12, info.indexOf("\",\"calls\""));
	}

	private static JsonNode json(HttpResponse<String> response) {
		assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
		return JsonMapper.shared().readTree(response.body());
	}

}
