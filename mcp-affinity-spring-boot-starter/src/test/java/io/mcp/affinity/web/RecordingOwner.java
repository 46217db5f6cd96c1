package io.mcp.affinity.web;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;

import io.mcp.affinity.core.test.OwnerCertificate;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.ssl.SslContextBuilder;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.Http11SslContextSpec;
import reactor.netty.http.server.HttpServer;
import reactor.netty.resources.LoopResources;

/**
 * Stands in for the owning instance, on loopback, over http or https: records every request it receives (headers
 * and body), answers POST with JSON, a header or two and a cookie naming the request (as an application that keeps an
 * HTTP session does), and answers GET with an SSE stream of an event every 300 ms until the forwarder closes it (as an
 * MCP stream with keep-alive pings). It runs on an event loop of its own: Reactor Netty's global ones belong to the
 * instance under test, which disposes of them when it stops.
 */
final class RecordingOwner implements AutoCloseable {

	final List<Received> received = new CopyOnWriteArrayList<>();

	final CountDownLatch streamCancelled = new CountDownLatch(1);

	private final LoopResources loops = LoopResources.create("recording-owner", 1, true);

	private final DisposableServer server;

	RecordingOwner() {
		this(null, (tls) -> {
		});
	}

	/**
	 * An owner that serves https with that certificate.
	 * @param certificate the owner's certificate, or {@code null} to serve plain http
	 * @param tls more of its TLS set-up (the protocols it accepts, a client certificate it requires)
	 */
	RecordingOwner(@Nullable OwnerCertificate certificate, Consumer<SslContextBuilder> tls) {
		HttpServer server = HttpServer.create().runOn(this.loops).host("127.0.0.1").port(0);
		if (certificate != null) {
			Http11SslContextSpec context = Http11SslContextSpec.forServer(certificate.keyManagers()).configure(tls);
			server = server.secure((ssl) -> ssl.sslContext(context));
		}
		this.server = server.route((routes) -> routes
			.post("/mcp", (request, response) -> request.receive().aggregate().asString(StandardCharsets.UTF_8)
				.defaultIfEmpty("")
				.flatMap((body) -> {
					this.received.add(new Received(request.method().name(), request.uri(), request.requestHeaders().copy(), body));
					return response.status(200)
						.header("Content-Type", "application/json")
						.header("X-Owner", "yes")
						.header("Keep-Alive", "timeout=5")
						.header("Set-Cookie", "OWNER_SESSION=answer-" + this.received.size() + "; Path=/; HttpOnly")
						.sendString(Mono.just("{\"echo\":" + body.length() + "}"))
						.then();
				}))
			.get("/mcp", (request, response) -> {
				this.received.add(new Received("GET", request.uri(), request.requestHeaders().copy(), ""));
				return response.status(200)
					.header("Content-Type", "text/event-stream")
					.sendString(Flux.interval(Duration.ofMillis(300))
						.map((i) -> "data: event-" + i + "\n\n")
						.doOnCancel(this.streamCancelled::countDown), StandardCharsets.UTF_8)
					.then();
			})).bindNow();
	}

	int port() {
		return this.server.port();
	}

	@Override
	public void close() {
		this.server.disposeNow();
		this.loops.dispose();
	}

	record Received(String method, String uri, HttpHeaders headers, String body) {
	}

}
