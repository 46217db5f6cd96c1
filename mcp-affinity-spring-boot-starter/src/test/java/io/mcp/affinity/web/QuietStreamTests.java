package io.mcp.affinity.web;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionId;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.ThrowingConsumer;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A forwarded stream stays open for as long as its owner keeps it open, however long it is quiet, and holds no server
 * thread while it is: an MCP server may send nothing on a session's GET stream for minutes, its headers included.
 * Both stacks at once: the first test must wait minutes, past the 3 minutes after which Apache HttpClient 5, the
 * servlet forward's client, gives up a read by default.
 */
class QuietStreamTests {

	private static final Duration QUIET = Duration.ofMinutes(3).plusSeconds(15);

	private static final String EPOCH = "quiet-owner-epoch";

	@Test
	void aForwardedStreamQuietForMinutesStillCarriesTheOwnersNextEvent() throws Exception {
		try (SocketOwner owner = new SocketOwner(SocketOwner.Answer.QUIET_STREAM);
				ConfigurableApplicationContext webFlux = start(
						new SpringApplicationBuilder(OwnerForwardingTests.InstanceConfiguration.class)
							.web(WebApplicationType.REACTIVE));
				ConfigurableApplicationContext servlet = start(
						new SpringApplicationBuilder(OwnerForwardingServletTests.ServletInstanceConfiguration.class)
							.web(WebApplicationType.SERVLET))) {
			Map<String, Socket> streams = new LinkedHashMap<>();
			try {
				streams.put("WebFlux", openStream(webFlux, owner));
				streams.put("servlet", openStream(servlet, owner));
				for (Map.Entry<String, Socket> stream : streams.entrySet()) {
					assertThat(owner.firstReads.poll(10, TimeUnit.SECONDS))
						.as("the %s forward at the owner", stream.getKey())
						.startsWith("GET /mcp HTTP/1.1");
				}

				Thread.sleep(QUIET.toMillis());
				owner.speak();

				for (Map.Entry<String, Socket> stream : streams.entrySet()) {
					assertThat(readUntil(stream.getValue(), "data: still here"))
						.as("what the client of the %s forward received after the quiet", stream.getKey())
						.startsWith("HTTP/1.1 200")
						.containsIgnoringCase("content-type: text/event-stream")
						.contains("data: still here");
				}
			}
			finally {
				for (Socket stream : streams.values()) {
					stream.close();
				}
			}
		}
	}

	@Test
	void streamsWaitingForTheirOwnersHeadersHoldNoServerThread() throws Throwable {
		// Spring AI's transports send a GET stream's headers with its first event, which may be minutes away.
		try (SocketOwner owner = new SocketOwner(SocketOwner.Answer.NOTHING)) {
			eightForwardsHeldOnFourThreads(owner, "GET", (streams) -> {
			});
		}
	}

	@Test
	void answersToPostsThatGoQuietHoldNoServerThread() throws Throwable {
		// A tool call's stream may send its headers at once and its result minutes later. The servlet forward relays
		// an answer on the request thread only while the owner's next bytes come at once.
		try (SocketOwner owner = new SocketOwner(SocketOwner.Answer.QUIET_STREAM)) {
			eightForwardsHeldOnFourThreads(owner, "POST", (streams) -> {
				owner.speak();
				for (Socket stream : streams) {
					assertThat(readUntil(stream, "data: still here")).as("an answer's event after the quiet")
						.contains("data: still here");
				}
			});
		}
	}

	// Eight forwards (GET streams or POSTs) the owner holds open through each stack, the servlet instance's Tomcat given
	// four threads; then a new session on each instance must still be served, and the forwards are handed on, open.
	private static void eightForwardsHeldOnFourThreads(SocketOwner owner, String method,
			ThrowingConsumer<List<Socket>> then) throws Throwable {
		try (ConfigurableApplicationContext webFlux = start(
				new SpringApplicationBuilder(OwnerForwardingTests.InstanceConfiguration.class)
					.web(WebApplicationType.REACTIVE));
				ConfigurableApplicationContext servlet = start(
						new SpringApplicationBuilder(OwnerForwardingServletTests.ServletInstanceConfiguration.class)
							.web(WebApplicationType.SERVLET)
							.properties("server.tomcat.threads.max=4", "server.tomcat.threads.min-spare=1"))) {
			List<Socket> streams = new ArrayList<>();
			try {
				for (ConfigurableApplicationContext instance : List.of(webFlux, servlet)) {
					String stack = (instance == webFlux) ? "WebFlux" : "servlet";
					for (int i = 0; i < 8; i++) {
						streams.add("GET".equals(method) ? openStream(instance, owner) : openPost(instance, owner));
						assertThat(owner.firstReads.poll(10, TimeUnit.SECONDS))
							.as("forward %d of the %s instance at the owner", i + 1, stack)
							.startsWith(method + " /mcp HTTP/1.1");
					}
					try (Socket client = new Socket("127.0.0.1", port(instance))) {
						client.getOutputStream()
							.write("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
								.getBytes(StandardCharsets.ISO_8859_1));
						assertThat(readUntil(client, "\r\n\r\n"))
							.as("a new session on the %s instance, its forwards held", stack)
							.startsWith("HTTP/1.1 200")
							.containsIgnoringCase("Mcp-Session-Id: new-");
					}
				}
				then.accept(streams);
			}
			finally {
				for (Socket stream : streams) {
					stream.close();
				}
			}
		}
	}

	private static ConfigurableApplicationContext start(SpringApplicationBuilder instance) {
		return instance
			.properties("server.port=0", "server.address=127.0.0.1", "mcp.affinity.store=memory",
					"spring.main.banner-mode=off", "mcp.affinity.forwarding.secret=forwarding-secret-for-tests",
					OwnerForwardingTests.NO_SECURITY)
			.run();
	}

	private static int port(ConfigurableApplicationContext instance) {
		return ((WebServerApplicationContext) instance).getWebServer().getPort();
	}

	// A GET stream of a session the socket owner holds, opened through the instance, nothing read from it yet.
	private static Socket openStream(ConfigurableApplicationContext instance, SocketOwner owner) throws IOException {
		instance.getBean(OwnerForwardingTests.MapRegistry.class).live.put(EPOCH,
				new InstanceIdentity(URI.create("http://127.0.0.1:" + owner.port()), EPOCH));
		String session = "quiet-" + System.nanoTime();
		instance.getBean(OwnershipStore.class).claim(SessionId.of(session), EPOCH).block(Duration.ofSeconds(10));
		Socket client = new Socket("127.0.0.1", port(instance));
		client.getOutputStream()
			.write(("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: " + session
					+ "\r\n\r\n")
				.getBytes(StandardCharsets.ISO_8859_1));
		client.getOutputStream().flush();
		return client;
	}

	// A POST of a session the socket owner holds, sent through the instance, nothing read of its answer yet.
	private static Socket openPost(ConfigurableApplicationContext instance, SocketOwner owner) throws IOException {
		instance.getBean(OwnerForwardingTests.MapRegistry.class).live.put(EPOCH,
				new InstanceIdentity(URI.create("http://127.0.0.1:" + owner.port()), EPOCH));
		String session = "quiet-" + System.nanoTime();
		instance.getBean(OwnershipStore.class).claim(SessionId.of(session), EPOCH).block(Duration.ofSeconds(10));
		String body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}";
		Socket client = new Socket("127.0.0.1", port(instance));
		client.getOutputStream()
			.write(("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
					+ "Accept: application/json, text/event-stream\r\nMcp-Session-Id: " + session
					+ "\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
				.getBytes(StandardCharsets.ISO_8859_1));
		client.getOutputStream().flush();
		return client;
	}

	// What the stream carries next, up to the given text (or its end, or 10 s without more).
	private static String readUntil(Socket stream, String end) throws IOException {
		stream.setSoTimeout(10_000);
		InputStream in = stream.getInputStream();
		StringBuilder received = new StringBuilder();
		try {
			// A byte at a time: what follows the text is left for the next read.
			for (int read = in.read(); read >= 0; read = in.read()) {
				received.append((char) read);
				if (received.indexOf(end) >= 0) {
					break;
				}
			}
		}
		catch (SocketTimeoutException | SocketException ex) {
			received.append("\n[").append(ex).append("]");
		}
		return received.toString();
	}

}
