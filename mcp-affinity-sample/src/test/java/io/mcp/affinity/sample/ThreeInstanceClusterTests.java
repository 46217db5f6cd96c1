package io.mcp.affinity.sample;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.core.SessionOwnerResolver;
import io.mcp.affinity.core.test.LocalRedisTopology;
import io.mcp.affinity.core.test.TestRedis;
import io.mcp.affinity.sample.McpClients.Client;
import io.mcp.affinity.sample.McpClients.Progress;
import io.mcp.affinity.sample.cluster.RoundRobinFrontDoor.Routed;
import io.modelcontextprotocol.spec.McpSchema;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Three real instances of the sample in this JVM, one real Redis, a round-robin front door with no stickiness, and
 * the MCP Java SDK client: every request of a session must reach the instance that holds its state.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ThreeInstanceClusterTests {

	private static final Pattern SESSION_INFO = Pattern
		.compile("\\{\"sessionId\":\"([^\"]+)\",\"instance\":\"([^\"]+)\",\"calls\":(\\d+)}");

	private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

	private InProcessCluster cluster;

	private @Nullable LocalRedisTopology topology;

	@BeforeAll
	void startCluster() {
		this.topology = startRedisTopology();
		this.cluster = new InProcessCluster(3, (this.topology != null) ? this.topology.springArguments()
				: List.of("--spring.data.redis.host=" + TestRedis.shared().host(),
						"--spring.data.redis.port=" + TestRedis.shared().port()),
				this::instanceArguments);
	}

	/**
	 * What every instance is started with besides the defaults: its ownership mode and web stack (none here: store
	 * ownership on WebFlux). A subclass runs the suite with others.
	 * @return arguments for every instance
	 */
	protected List<String> instanceArguments() {
		return List.of();
	}

	/**
	 * What the instance of an index is started with: {@link #instanceArguments()} here, the same for all. A subclass
	 * runs the suite on a cluster whose instances differ.
	 * @param index the instance's index
	 * @return arguments for that instance
	 */
	protected List<String> instanceArguments(int index) {
		return instanceArguments();
	}

	/** The cluster, for the tests of a subclass. */
	protected InProcessCluster cluster() {
		return this.cluster;
	}

	/** The id a session's MCP transport (and so its tools) knows it by, given the id its client uses. */
	static String transportId(String clientId) {
		return SessionOwnerResolver.transportId(SessionId.of(clientId)).value();
	}

	@AfterAll
	void stopCluster() {
		this.cluster.close();
		if (this.topology != null) {
			this.topology.close();
		}
	}

	/**
	 * Starts the Redis topology the instances use: none here, they share the test Redis. A subclass runs the suite on
	 * another topology.
	 * @return the topology, or {@code null} for the shared test Redis
	 */
	protected @Nullable LocalRedisTopology startRedisTopology() {
		return null;
	}

	static SessionInfo sessionInfo(Client client) {
		Matcher matcher = SESSION_INFO.matcher(client.call("session_info", Map.of()));
		assertThat(matcher.matches()).isTrue();
		return new SessionInfo(matcher.group(1), matcher.group(2), Long.parseLong(matcher.group(3)));
	}

	@Test
	@Order(1)
	void everyCallOfASessionSeesTheStateOfTheOneInstanceThatOwnsIt() {
		List<Client> clients = new ArrayList<>();
		try {
			Set<String> owners = new HashSet<>();
			// Initializes go round robin; open sessions until two instances own some (a shifting request each time).
			while (clients.size() < 4 || (owners.size() < 2 && clients.size() < 12)) {
				Client client = McpClients.streamable(this.cluster.frontDoor());
				clients.add(client);
				owners.add(sessionInfo(client).instance());
			}
			for (Client client : clients) {
				String key = "k-" + client.sessionId.get();
				client.call("remember", Map.of("key", key, "value", "v-" + client.sessionId.get()));
				SessionInfo first = sessionInfo(client);
				assertThat(first.sessionId()).isEqualTo(transportId(client.sessionId.get()));
				for (int call = 1; call <= 6; call++) {
					// Each call lands on the next instance in turn; all must see this session's own state, in order.
					assertThat(client.call("recall", Map.of("key", key))).isEqualTo("v-" + client.sessionId.get());
					SessionInfo info = sessionInfo(client);
					assertThat(info.instance()).isEqualTo(first.instance());
					assertThat(info.calls()).isEqualTo(first.calls() + 2L * call);
				}
			}
			assertThat(owners).as("instances owning sessions").hasSizeGreaterThan(1);
			// And requests of one session were spread over all three instances by the front door.
			String session = clients.get(0).sessionId.get();
			Set<Integer> reached = new HashSet<>();
			for (Routed routed : this.cluster.frontDoorRecord().routed()) {
				if (session.equals(routed.headers().get("Mcp-Session-Id"))) {
					reached.add(routed.instance());
				}
			}
			assertThat(reached).containsExactlyInAnyOrder(0, 1, 2);
		}
		finally {
			clients.forEach(Client::close);
		}
	}

	@Test
	@Order(2)
	void progressNotificationsArriveOneByOneWhileTheToolRunsOnAnotherInstance() {
		try (Client client = McpClients.streamable(this.cluster.frontDoor())) {
			long start = System.nanoTime();
			McpSchema.CallToolResult result = client.callWithProgress("countdown", Map.of("from", 5, "delayMs", 300),
					"countdown-1");
			long end = System.nanoTime();
			assertThat(((McpSchema.TextContent) result.content().get(0)).text()).isEqualTo("liftoff after 5 steps");
			// The client hands notifications to its consumer asynchronously: the last may land just after the result.
			await().atMost(Duration.ofSeconds(2)).until(() -> client.progress.size() >= 5);
			List<Progress> progress = client.progress;
			assertThat(progress).extracting((p) -> p.notification().progress()).containsExactly(1.0, 2.0, 3.0, 4.0, 5.0);
			// Streamed, not buffered: the first arrives long before the result, and they are spaced like the steps.
			assertThat(Duration.ofNanos(end - progress.get(0).arrivedAtNanos())).isGreaterThan(Duration.ofMillis(900));
			for (int i = 1; i < progress.size(); i++) {
				long gap = progress.get(i).arrivedAtNanos() - progress.get(i - 1).arrivedAtNanos();
				assertThat(Duration.ofNanos(gap)).isGreaterThan(Duration.ofMillis(150));
			}
			assertThat(Duration.ofNanos(end - start)).isGreaterThan(Duration.ofMillis(1500));
			assertThat(client.logs).contains("countdown 0");
		}
	}

	@Test
	@Order(3)
	void samplingAndElicitationAnswersThatLandOnANonOwnerReachTheOwner() {
		try (Client client = McpClients.streamable(this.cluster.frontDoor())) {
			int owner = this.cluster.indexOf(sessionInfo(client).instance());
			for (int i = 0; i < 3; i++) {
				assertThat(client.call("ask_client", Map.of("question", "q" + i))).isEqualTo("echo: q" + i);
				assertThat(client.call("confirm", Map.of("message", "ok " + i + "?"))).isEqualTo("accept confirmed=true");
			}
			List<Integer> answeredOn = this.cluster.answersRoutedTo(client.sessionId.get());
			// Six answers, and the answers to keep-alive pings.
			assertThat(answeredOn).hasSizeGreaterThanOrEqualTo(6).anyMatch((instance) -> instance != owner);
		}
	}

	@Test
	@Order(4)
	void getStreamOfASessionIsRelayedEventByEventFromANonOwner() throws Exception {
		// Initialized directly on instance 0, so instance 0 owns it; the stream is opened on instance 1.
		String session = rawInitialize(this.cluster.addresses().get(0));
		URI nonOwner = this.cluster.addresses().get(1);
		// The owner pings every session once a second on its GET stream (keep-alive): those pings must flow
		// through the non-owner one by one, while the stream stays open.
		HttpResponse<Stream<String>> stream = this.http.sendAsync(HttpRequest.newBuilder(nonOwner.resolve("/mcp"))
			.header("Accept", "text/event-stream")
			.header("Mcp-Session-Id", session)
			.header("MCP-Protocol-Version", "2025-06-18")
			.GET()
			.build(), HttpResponse.BodyHandlers.ofLines()).get(10, TimeUnit.SECONDS);
		assertThat(stream.statusCode()).isEqualTo(200);
		assertThat(stream.headers().firstValue("Content-Type"))
			.hasValueSatisfying((type) -> assertThat(type).startsWith("text/event-stream"));
		try (Stream<String> lines = stream.body()) {
			List<String> pings = lines.filter((line) -> line.startsWith("data:") && line.contains("\"method\":\"ping\""))
				.limit(2)
				.toList();
			assertThat(pings).hasSize(2);
		}
	}

	@Test
	@Order(5)
	void afterDeleteEveryInstanceAnswers404() throws Exception {
		Client client = McpClients.streamable(this.cluster.frontDoor());
		String session = client.sessionId.get();
		client.call("remember", Map.of("key", "a", "value", "b"));
		// Every instance has the owner in memory now (L1)...
		for (URI instance : this.cluster.addresses()) {
			assertThat(post(instance, session, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\"}").statusCode())
				.isEqualTo(200);
		}
		client.close(); // DELETE, through the front door
		// ...and forgets it at once: the owner's release reaches every instance (pub/sub), not only its own.
		for (int i = 0; i < 3; i++) {
			OwnershipStore store = this.cluster.instance(i).getBean(OwnershipStore.class);
			await().atMost(Duration.ofSeconds(5))
				.untilAsserted(() -> assertThat(store.findOwnerInMemory(SessionId.of(session), "none")).isNull());
		}
		for (URI instance : this.cluster.addresses()) {
			HttpResponse<String> response = post(instance, session, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}");
			assertThat(response.statusCode()).as("answer of %s", instance).isEqualTo(404);
			assertThat(response.body()).contains("\"error\"").contains("Session not found").doesNotContain("stackTrace");
		}
	}

	@Test
	@Order(6)
	void unknownSessionGetsA404WithAJsonRpcErrorFromEveryInstance() throws Exception {
		for (URI instance : this.cluster.addresses()) {
			HttpResponse<String> response = post(instance, "no-such-session",
					"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
			assertThat(response.statusCode()).isEqualTo(404);
			assertThat(response.body())
				.isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32001,\"message\":\"Session not found\"}}");
		}
	}

	@Test
	@Order(6)
	void aChunkedBodyOverTheLimitGets413FromTheOwnerAndFromANonOwner() throws Exception {
		URI owner = this.cluster.addresses().get(0);
		String session = RawMcp.initialize(owner);
		byte[] large = ("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"remember\","
				+ "\"arguments\":{\"key\":\"k\",\"value\":\"" + "x".repeat(300 * 1024) + "\"}}}")
			.getBytes(StandardCharsets.UTF_8);
		for (URI instance : List.of(owner, this.cluster.addresses().get(1))) {
			// From a stream of unknown length: sent chunked, with no Content-Length to check up front.
			HttpResponse<String> response = this.http.send(RawMcp.request(instance, session, "")
				.POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(large)))
				.build(), HttpResponse.BodyHandlers.ofString());
			assertThat(response.statusCode()).as("answer of %s", instance).isEqualTo(413);
			assertThat(response.body()).contains("\"jsonrpc\":\"2.0\"").contains("Request body too large");
		}
		// The session is unharmed.
		assertThat(RawMcp.post(this.cluster.addresses().get(2), session,
				"{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\"}").statusCode()).isEqualTo(200);
	}

	@Test
	@Order(6)
	void badInputGets400WithAJsonRpcErrorAndNoStackTraceFromTheOwnerANonOwnerAndWithoutASession()
			throws Exception {
		URI owner = this.cluster.addresses().get(0);
		String session = RawMcp.initialize(owner);
		String malformed = "{\"jsonrpc\":\"2.0\", \"id\":";
		List<HttpResponse<String>> answers = new ArrayList<>();
		for (URI instance : List.of(owner, this.cluster.addresses().get(1))) {
			answers.add(post(instance, session, malformed));
		}
		// Without a session the request passes straight through to the MCP handler: its answer is repaired all the same.
		answers.add(this.http.send(HttpRequest.newBuilder(owner.resolve("/mcp"))
			.header("Content-Type", "application/json")
			.header("Accept", "application/json, text/event-stream")
			.POST(HttpRequest.BodyPublishers.ofString(malformed))
			.build(), HttpResponse.BodyHandlers.ofString()));
		for (HttpResponse<String> answer : answers) {
			assertThat(answer.statusCode()).as("answer of %s", answer.uri()).isEqualTo(400);
			assertThat(answer.headers().firstValue("Content-Type")).hasValue("application/json");
			// Spring AI's own answer serializes an exception, stack trace included; the client gets its JSON-RPC error.
			assertThat(answer.body()).as("answer of %s", answer.uri())
				.isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid message format\"}}");
		}
		// A stream asked for without accepting one: Spring AI answers 400 with no body (WebFlux) or plain text (servlet).
		for (URI instance : List.of(owner, this.cluster.addresses().get(1))) {
			HttpResponse<String> answer = this.http.send(HttpRequest.newBuilder(instance.resolve("/mcp"))
				.header("Accept", "application/json")
				.header("Mcp-Session-Id", session)
				.header("MCP-Protocol-Version", "2025-06-18")
				.GET()
				.build(), HttpResponse.BodyHandlers.ofString());
			assertThat(answer.statusCode()).as("answer of %s", instance).isEqualTo(400);
			assertThat(answer.headers().firstValue("Content-Type")).hasValue("application/json");
			assertThat(answer.body()).as("answer of %s", instance)
				.startsWith("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"");
		}
		// The session is unharmed.
		assertThat(post(this.cluster.addresses().get(2), session, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\"}")
			.statusCode()).isEqualTo(200);
	}

	@Test
	@Order(7)
	void anInstanceShutDownGracefullyReleasesItsSessionsSoTheOthersAnswer404AtOnce() throws Exception {
		int leaving = 2;
		Set<String> held = new HashSet<>();
		for (int i = 0; i < 3; i++) {
			held.add(rawInitialize(this.cluster.addresses().get(leaving)));
		}

		this.cluster.stopGracefully(leaving);

		OwnershipStore survivorStore = this.cluster.instance(0).getBean(OwnershipStore.class);
		for (String session : held) {
			assertThat(survivorStore.findOwner(SessionId.of(session)).blockOptional()).as("entry of a released session")
				.isEmpty();
			HttpResponse<String> response = post(this.cluster.addresses().get(0), session,
					"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}");
			assertThat(response.statusCode()).isEqualTo(404);
		}
	}

	@Test
	@Order(8)
	void sessionsOfAStoppedInstanceGet404WhileTheOthersAreUntouched() throws Exception {
		List<Client> clients = new ArrayList<>();
		for (int i = 0; i < 6; i++) {
			clients.add(McpClients.streamable(this.cluster.frontDoor()));
		}
		// Session ids as of now: a client whose session dies re-initializes by itself and gets a new one.
		Map<String, Integer> owners = new HashMap<>();
		for (Client client : clients) {
			client.call("remember", Map.of("key", "k", "value", client.sessionId.get()));
			owners.put(client.sessionId.get(), this.cluster.indexOf(sessionInfo(client).instance()));
		}
		int victim = owners.get(clients.get(0).sessionId.get());
		this.cluster.killWebServer(victim);
		// Instance 2 left in the previous test: the victim is 0 or 1, the survivor the other one.
		URI survivor = this.cluster.addresses().get(1 - victim);
		for (Map.Entry<String, Integer> owned : owners.entrySet()) {
			HttpResponse<String> response = post(survivor, owned.getKey(),
					"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}");
			assertThat(response.statusCode()).as("session owned by instance %d", owned.getValue())
				.isEqualTo((owned.getValue() == victim) ? 404 : 200);
		}
		for (Client client : clients) {
			if (owners.get(client.sessionId.get()) != null && owners.get(client.sessionId.get()) != victim) {
				assertThat(client.call("recall", Map.of("key", "k"))).isEqualTo(client.sessionId.get());
			}
		}
		// A new session starts fine through the front door, on the survivors.
		try (Client fresh = McpClients.streamable(this.cluster.frontDoor())) {
			assertThat(this.cluster.indexOf(sessionInfo(fresh).instance())).isNotEqualTo(victim);
		}
		clients.forEach(Client::close);
	}

	private String rawInitialize(URI instance) throws Exception {
		return RawMcp.initialize(instance);
	}

	private HttpResponse<String> post(URI instance, String session, String body) throws Exception {
		return RawMcp.post(instance, session, body);
	}

	record SessionInfo(String sessionId, String instance, long calls) {
	}

}
