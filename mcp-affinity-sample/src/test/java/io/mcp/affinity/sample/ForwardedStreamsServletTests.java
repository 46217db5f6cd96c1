package io.mcp.affinity.sample;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.mcp.affinity.web.servlet.ServletOwnerForwarder;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Long-lived forwarded SSE streams on the servlet stack: 200 of them open through one instance, whose Tomcat has its
 * default 200 threads. A stream must hold a relay thread, not a Tomcat one, or that instance would stop answering.
 */
class ForwardedStreamsServletTests {

	private static final int STREAMS = 200;

	@Test
	void twoHundredForwardedStreamsDoNotExhaustTheForwardingInstance() throws Exception {
		try (InProcessCluster cluster = new InProcessCluster(2, "--spring.main.web-application-type=servlet")) {
			URI forwarding = cluster.addresses().get(0);
			URI owner = cluster.addresses().get(1);
			List<String> sessions = new ArrayList<>();
			for (int i = 0; i < STREAMS; i++) {
				sessions.add(RawMcp.initialize(owner));
			}
			List<CompletableFuture<HttpResponse<InputStream>>> streams = new ArrayList<>();
			for (String session : sessions) {
				streams.add(RawMcp.HTTP.sendAsync(HttpRequest.newBuilder(forwarding.resolve("/mcp"))
					.header("Accept", "text/event-stream")
					.header("Mcp-Session-Id", session)
					.header("MCP-Protocol-Version", "2025-06-18")
					.GET()
					.build(), HttpResponse.BodyHandlers.ofInputStream()));
			}
			for (CompletableFuture<HttpResponse<InputStream>> stream : streams) {
				HttpResponse<InputStream> response = stream.get(60, TimeUnit.SECONDS);
				assertThat(response.statusCode()).isEqualTo(200);
				assertThat(response.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
			}
			long relays = relaying("mcp-affinity-relay-");
			String tomcatThreads = "http-nio-127.0.0.1-" + forwarding.getPort() + "-exec-";
			long tomcatHeld = relaying(tomcatThreads);
			System.out.printf("%n%d forwarded SSE streams open through one servlet instance: %d relay threads, "
					+ "%d Tomcat threads held by forwards (%d in its pool)%n", STREAMS, relays, tomcatHeld,
					threads(tomcatThreads));
			assertThat(relays).as("relay threads busy with a forwarded stream").isEqualTo(STREAMS);
			assertThat(tomcatHeld).as("Tomcat threads held by open forwarded streams").isZero();
			// The instance still serves new work, locally and forwarded, with every stream still open.
			String fresh = RawMcp.initialize(forwarding);
			assertThat(RawMcp.post(forwarding, fresh, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}").statusCode())
				.isEqualTo(200);
			assertThat(RawMcp.post(forwarding, sessions.get(0), "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}")
				.statusCode()).isEqualTo(200);
			// Clients that leave free their relay threads (at the owner's next keep-alive ping, at the latest).
			for (CompletableFuture<HttpResponse<InputStream>> stream : streams) {
				stream.get().body().close();
			}
			await().atMost(Duration.ofSeconds(30)).until(() -> relaying("mcp-affinity-relay-") < STREAMS / 10);
		}
	}

	// Threads of a name busy relaying a forward (not idle in their pool).
	private static long relaying(String namePrefix) {
		return Thread.getAllStackTraces()
			.entrySet()
			.stream()
			.filter((thread) -> thread.getKey().getName().startsWith(namePrefix))
			.filter((thread) -> Arrays.stream(thread.getValue())
				.anyMatch((frame) -> frame.getClassName().startsWith(ServletOwnerForwarder.class.getName())))
			.count();
	}

	private static long threads(String namePrefix) {
		return Thread.getAllStackTraces().keySet().stream().filter((t) -> t.getName().startsWith(namePrefix)).count();
	}

}
