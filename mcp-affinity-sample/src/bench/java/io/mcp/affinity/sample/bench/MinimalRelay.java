package io.mcp.affinity.sample.bench;

import java.net.URI;

import io.netty.handler.codec.http.HttpHeaderNames;
import reactor.netty.DisposableServer;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.server.HttpServer;
import reactor.netty.resources.ConnectionProvider;

/**
 * The floor for a hop on the JVM, to measure the forwarder against: a Reactor Netty server that relays every request to
 * one address with a pooled Reactor Netty client, passing the buffers through both ways and flushing each response
 * chunk as it comes (an SSE event leaves at once). Nothing else: no header hygiene, signing, timeouts or tracing.
 * Run by the benchmark as a process of its own: {@code MinimalRelay <port> <target>}.
 */
public final class MinimalRelay {

	private MinimalRelay() {
	}

	public static void main(String[] args) {
		int port = Integer.parseInt(args[0]);
		URI target = URI.create(args[1]);
		HttpClient client = HttpClient.create(ConnectionProvider.create("relay", 64));
		DisposableServer server = HttpServer.create()
			.host("127.0.0.1")
			.port(port)
			.handle((request, response) -> client
				.headers((headers) -> headers.set(request.requestHeaders()).remove(HttpHeaderNames.HOST))
				.request(request.method())
				.uri(target + request.uri())
				.send((outbound, out) -> out.send(request.receive().retain()))
				.response((upstream, body) -> response.status(upstream.status())
					.headers(upstream.responseHeaders())
					.send(body.retain(), (chunk) -> true))
				.then())
			.bindNow();
		server.onDispose().block();
	}

}
