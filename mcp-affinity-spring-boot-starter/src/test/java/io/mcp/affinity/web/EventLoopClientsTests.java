package io.mcp.affinity.web;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import io.netty.channel.EventLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;
import org.springframework.http.server.reactive.HttpHandler;
import org.springframework.http.server.reactive.ReactorHttpHandlerAdapter;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;
import reactor.netty.DisposableServer;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.server.HttpServer;
import reactor.netty.resources.ConnectionProvider;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The forwarder's clients on a real Reactor Netty server: the connection each request is forwarded on lives on the
 * event loop the request arrived on, whatever the load.
 */
class EventLoopClientsTests {

	private final List<ConnectionProvider> pools = new CopyOnWriteArrayList<>();

	private final List<DisposableServer> servers = new CopyOnWriteArrayList<>();

	@AfterEach
	void stop() {
		this.servers.forEach(DisposableServer::disposeNow);
		this.pools.forEach(ConnectionProvider::dispose);
	}

	@Test
	void eachRequestIsForwardedOnAConnectionOfItsOwnEventLoop() {
		DisposableServer owner = serve(HttpServer.create()
			.handle((request, response) -> response.sendString(Mono.just("answered"))));
		AtomicInteger clientsMade = new AtomicInteger();
		EventLoopClients clients = new EventLoopClients(() -> {
			clientsMade.incrementAndGet();
			return HttpClient.create(pool("forwarder"));
		});
		AtomicInteger forwarded = new AtomicInteger();
		Set<String> elsewhere = ConcurrentHashMap.newKeySet();
		Map<EventLoop, Boolean> serverLoops = new ConcurrentHashMap<>();
		HttpHandler forwarder = (request, response) -> {
			EventLoop arrivedOn = ((Connection) ServerHttpRequestDecorator.getNativeRequest(request)).channel()
				.eventLoop();
			serverLoops.put(arrivedOn, true);
			return clients.of(request)
				.get()
				.uri("http://127.0.0.1:" + owner.port() + "/")
				.responseConnection((answer, connection) -> {
					if (connection.channel().eventLoop() != arrivedOn) {
						elsewhere.add(connection.channel().eventLoop() + " for " + arrivedOn);
					}
					return connection.inbound().receive().aggregate().asString();
				})
				.then(Mono.fromRunnable(forwarded::incrementAndGet))
				.then(Mono.fromRunnable(() -> response.setStatusCode(HttpStatus.NO_CONTENT)))
				.then(response.setComplete());
		};
		DisposableServer front = serve(HttpServer.create().handle(new ReactorHttpHandlerAdapter(forwarder)));
		HttpClient callers = HttpClient.create(pool("callers"));

		// Bursts of concurrent callers on kept-alive connections, spread over the front server's event loops: a pool
		// shared across loops would hand out connections made on other loops.
		Flux.range(0, 600)
			.flatMap((i) -> callers.get()
				.uri("http://127.0.0.1:" + front.port() + "/")
				.responseSingle((response, body) -> Mono.just(response.status().code())), 48)
			.collectList()
			.doOnNext((statuses) -> assertThat(statuses).containsOnly(204))
			.block();

		assertThat(forwarded).hasValue(600);
		assertThat(elsewhere).isEmpty();
		assertThat(serverLoops).hasSizeGreaterThan(1);
		assertThat(clientsMade).hasValue(serverLoops.size());
	}

	private DisposableServer serve(HttpServer server) {
		DisposableServer bound = server.host("127.0.0.1").port(0).bindNow();
		this.servers.add(bound);
		return bound;
	}

	private ConnectionProvider pool(String name) {
		ConnectionProvider pool = ConnectionProvider.create(name, 64);
		this.pools.add(pool);
		return pool;
	}

}
