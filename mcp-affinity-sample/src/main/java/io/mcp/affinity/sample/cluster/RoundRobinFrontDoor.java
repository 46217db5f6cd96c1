package io.mcp.affinity.sample.cluster;

import java.net.URI;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * A load balancer with no stickiness: each request goes to the next instance in turn, whatever session it carries.
 * It streams both ways (an SSE response flows through event by event), which is all a plain load balancer does, and
 * it records where each request went so tests can tell which instance served what.
 */
public final class RoundRobinFrontDoor implements AutoCloseable {

	private final List<URI> instances;

	private final AtomicLong next = new AtomicLong();

	private final HttpClient client;

	private final List<Routed> routed = new CopyOnWriteArrayList<>();

	private final Set<Integer> excluded = ConcurrentHashMap.newKeySet();

	private final DisposableServer server;

	/**
	 * Starts a front door on loopback.
	 * @param port the port, or 0 for any free one
	 * @param instances the instances to spread requests over
	 */
	public RoundRobinFrontDoor(int port, List<URI> instances) {
		this(port, instances, HttpClient.create());
	}

	/**
	 * Starts a front door on loopback that reaches the instances with a client of the caller's: one that trusts their
	 * certificate when they serve https, as a load balancer that re-encrypts to its targets does.
	 * @param port the port, or 0 for any free one
	 * @param instances the instances to spread requests over
	 * @param client the client to the instances
	 */
	public RoundRobinFrontDoor(int port, List<URI> instances, HttpClient client) {
		this.client = client;
		this.instances = List.copyOf(instances);
		this.server = HttpServer.create().host("127.0.0.1").port(port).handle(this::relay).bindNow();
	}

	/** The URL clients use. */
	public URI address() {
		return URI.create("http://127.0.0.1:" + this.server.port());
	}

	/** Every request relayed so far, in arrival order. */
	public List<Routed> routed() {
		return List.copyOf(this.routed);
	}

	private Mono<Void> relay(HttpServerRequest request, HttpServerResponse response) {
		int index = (int) (this.next.getAndIncrement() % this.instances.size());
		while (this.excluded.contains(index) && this.excluded.size() < this.instances.size()) {
			index = (int) (this.next.getAndIncrement() % this.instances.size());
		}
		URI target = this.instances.get(index);
		this.routed.add(new Routed(index, request.method().name(), request.uri(), request.requestHeaders().copy()));
		return this.client.headers((headers) -> headers.set(request.requestHeaders()).remove(HttpHeaderNames.HOST))
			.request(request.method())
			.uri(target + request.uri())
			.send((outbound, out) -> out.send(request.receive().retain()))
			.response((upstream, body) -> response.status(upstream.status())
				.headers(upstream.responseHeaders())
				.send(body.retain()))
			.then()
			.onErrorResume((ex) -> response.status(502).send().then());
	}

	/**
	 * Takes an instance out of the rotation, as a load balancer's health check would once the instance is gone.
	 * @param index the instance
	 */
	public void exclude(int index) {
		this.excluded.add(index);
	}

	/**
	 * Puts an instance back into the rotation.
	 * @param index the instance
	 */
	public void include(int index) {
		this.excluded.remove(index);
	}

	@Override
	public void close() {
		this.server.disposeNow();
	}

	/**
	 * One relayed request.
	 * @param instance index of the instance it went to
	 * @param method HTTP method
	 * @param uri path and query
	 * @param headers request headers
	 */
	public record Routed(int instance, String method, String uri, HttpHeaders headers) {
	}

}
