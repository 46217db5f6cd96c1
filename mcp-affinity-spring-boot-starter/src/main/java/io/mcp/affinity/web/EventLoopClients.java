package io.mcp.affinity.web;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import io.netty.channel.EventLoop;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.util.function.SingletonSupplier;
import reactor.netty.http.client.HttpClient;

/**
 * The forwarder's clients to the owners: one per event loop of the server, each with a connection pool of its own
 * whose connections live on that same loop (as a worker-local upstream pool in Envoy, or a Netty proxy connecting on
 * its inbound channel's loop). A forward is then served by one thread from the client's bytes in to the owner's answer
 * out. With one shared pool the owner's connection was on another loop: the request, each read's demand and each chunk
 * of the answer crossed threads, with a wake-up every time (docs/benchmarks.md has the system calls per forward).
 */
final class EventLoopClients {

	private final Supplier<HttpClient> newClient;

	// A handful: one per event loop the server has.
	private final Map<EventLoop, HttpClient> clients = new ConcurrentHashMap<>();

	// For a server other than Reactor Netty: made on first use.
	private final SingletonSupplier<HttpClient> shared;

	/**
	 * Creates the clients.
	 * @param newClient gives a client with a connection pool of its own at each call
	 */
	EventLoopClients(Supplier<HttpClient> newClient) {
		this.newClient = newClient;
		this.shared = SingletonSupplier.of(newClient);
	}

	/**
	 * The client for a request.
	 * @param request the request, as the server adapter or any decorator of it gives it
	 * @return the client on the request's event loop; on a server other than Reactor Netty, one client for all
	 */
	HttpClient of(ServerHttpRequest request) {
		EventLoop eventLoop = RequestEventLoops.of(request);
		if (eventLoop == null) {
			return this.shared.obtain();
		}
		HttpClient client = this.clients.get(eventLoop);
		return (client != null) ? client
				: this.clients.computeIfAbsent(eventLoop, (loop) -> this.newClient.get().runOn(loop));
	}

}
