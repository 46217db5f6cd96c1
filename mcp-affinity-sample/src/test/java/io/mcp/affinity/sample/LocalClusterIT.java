package io.mcp.affinity.sample;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.mcp.affinity.core.test.TestRedis;
import io.mcp.affinity.sample.McpClients.Client;
import io.modelcontextprotocol.spec.McpSchema;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The README's run command, for real: the packaged sample jar started as a process with {@code --local-cluster},
 * which starts three more JVMs of the same jar against one Redis and a round-robin front door. The sample's tool
 * contract is checked through that front door with the MCP Java SDK client.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LocalClusterIT {

	private static final Pattern INSTANCE = Pattern.compile("instance \\d+: (http://\\S+)");

	private Process launcher;

	private URI frontDoor;

	private final List<URI> instances = new CopyOnWriteArrayList<>();

	private final List<String> output = new CopyOnWriteArrayList<>();

	@BeforeAll
	void startCluster() throws Exception {
		String jar = System.getProperty("sample.jar");
		assertThat(jar).as("sample.jar system property (set by failsafe)").isNotNull();
		this.launcher = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-jar", jar,
				"--local-cluster", "--port=" + TestRedis.freePort(), "--redis=" + TestRedis.shared().url())
			.redirectErrorStream(true)
			.start();
		CompletableFuture<URI> ready = new CompletableFuture<>();
		Thread reader = new Thread(() -> {
			try (BufferedReader lines = new BufferedReader(
					new InputStreamReader(this.launcher.getInputStream(), StandardCharsets.UTF_8))) {
				String line;
				while ((line = lines.readLine()) != null) {
					this.output.add(line);
					Matcher instance = INSTANCE.matcher(line);
					if (instance.find()) {
						this.instances.add(URI.create(instance.group(1)));
					}
					if (line.startsWith("READY ")) {
						ready.complete(URI.create(line.substring("READY ".length())));
					}
				}
				ready.completeExceptionally(new AssertionError("launcher ended: " + this.output));
			}
			catch (Exception ex) {
				ready.completeExceptionally(ex);
			}
		});
		reader.setDaemon(true);
		reader.start();
		URI mcp = ready.get(3, TimeUnit.MINUTES);
		this.frontDoor = URI.create(mcp.getScheme() + "://" + mcp.getAuthority());
	}

	@AfterAll
	void stopCluster() throws Exception {
		this.launcher.destroy(); // SIGTERM, as Ctrl-C: the launcher stops its instances
		assertThat(this.launcher.waitFor(60, TimeUnit.SECONDS)).isTrue();
		for (URI instance : this.instances) {
			assertThat(listening(instance)).as("%s after stop", instance).isFalse();
		}
	}

	@Test
	void everyToolOfTheSampleWorksThroughTheFrontDoorWithStateConsistentPerSession() {
		assertThat(this.instances).hasSize(3);
		try (Client first = McpClients.streamable(this.frontDoor);
				Client second = McpClients.streamable(this.frontDoor)) {
			first.call("remember", Map.of("key", "city", "value", "Lyon"));
			second.call("remember", Map.of("key", "city", "value", "Oslo"));
			Set<String> servedBy = new HashSet<>();
			for (int i = 0; i < 5; i++) {
				assertThat(first.call("recall", Map.of("key", "city"))).isEqualTo("Lyon");
				assertThat(second.call("recall", Map.of("key", "city"))).isEqualTo("Oslo");
				servedBy.add(first.call("session_info", Map.of()));
			}
			McpSchema.CallToolResult missing = first.mcp
				.callTool(McpSchema.CallToolRequest.builder("recall").arguments(Map.of("key", "nope")).build());
			assertThat(missing.isError()).isTrue();

			String info = first.call("session_info", Map.of());
			assertThat(info).startsWith("{\"sessionId\":\"" + first.sessionId.get() + "\",\"instance\":\"http://127.0.0.1:")
				.endsWith(",\"calls\":13}");
			assertThat(servedBy).hasSize(5); // one instance, counting calls 3, 5, 7, 9, 11

			McpSchema.CallToolResult countdown = first.callWithProgress("countdown", Map.of("from", 3, "delayMs", 200),
					"cd");
			assertThat(((McpSchema.TextContent) countdown.content().get(0)).text()).isEqualTo("liftoff after 3 steps");
			// The client hands notifications to its consumer asynchronously: the last may land just after the result.
			await().atMost(Duration.ofSeconds(2)).until(() -> first.progress.size() >= 3);
			assertThat(first.progress).extracting((p) -> p.notification().progress()).containsExactly(1.0, 2.0, 3.0);
			assertThat(first.call("ask_client", Map.of("question", "why?"))).isEqualTo("echo: why?");
			assertThat(first.call("confirm", Map.of("message", "sure?"))).isEqualTo("accept confirmed=true");
		}
	}

	private static boolean listening(URI instance) {
		try (java.net.Socket socket = new java.net.Socket()) {
			socket.connect(new java.net.InetSocketAddress(instance.getHost(), instance.getPort()),
					(int) Duration.ofSeconds(1).toMillis());
			return true;
		}
		catch (java.io.IOException ex) {
			return false;
		}
	}

}
