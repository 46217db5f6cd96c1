package io.mcp.affinity.web;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.web.SessionRouting.Forward;
import io.mcp.affinity.web.SessionRouting.ForwardFailure;
import io.mcp.affinity.web.SessionRouting.Local;
import io.mcp.affinity.web.SessionRouting.Refused;
import io.mcp.affinity.web.SessionRouting.Route;
import io.mcp.affinity.web.SessionRouting.SessionNotClaimedException;
import io.netty.channel.EventLoop;
import org.jspecify.annotations.Nullable;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpMethod;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.reactive.function.server.HandlerFilterFunction;
import org.springframework.web.reactive.function.server.HandlerFunction;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.util.UriComponentsBuilder;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.netty.Connection;

/**
 * Session affinity for a WebFlux MCP router: every request that carries a session reaches the instance that owns it.
 * The WebFlux adapter of {@link SessionRouting}, which decides what to do with each request; this class reads the
 * request, calls the local handler, and relays a forward through {@link OwnerForwarder}.
 * <p>
 * Apply it with {@link #applyTo(RouterFunction)} or {@code router.filter(sessionAffinity)}; the starter applies it to
 * the router Spring AI's MCP server registers.
 */
public final class McpSessionAffinity implements HandlerFilterFunction<ServerResponse, ServerResponse> {

	// One timer per event loop (a handful per application), created on first use and forgotten when its loop ends.
	// Never disposed here: disposing one would shut its event loop down.
	private static final Map<EventLoop, Scheduler> EVENT_LOOP_TIMERS = new ConcurrentHashMap<>();

	// Set on an exchange once filtered, so a router wrapped twice (by hand and by the starter) is filtered once.
	private static final String FILTERED_ATTRIBUTE = McpSessionAffinity.class.getName() + ".filtered";

	private final SessionRouting routing;

	private final OwnerForwarder forwarder;

	/**
	 * Creates the filter.
	 * @param routing decides what to do with each request
	 * @param forwarder forwards requests to other instances
	 */
	public McpSessionAffinity(SessionRouting routing, OwnerForwarder forwarder) {
		this.routing = Objects.requireNonNull(routing, "routing must not be null");
		this.forwarder = Objects.requireNonNull(forwarder, "forwarder must not be null");
	}

	/**
	 * Returns the router with session affinity applied: the Java form of {@code .withSessionAffinity()}.
	 * @param <T> the response type of the router
	 * @param router the MCP router
	 * @return the filtered router
	 */
	@SuppressWarnings("unchecked")
	public <T extends ServerResponse> RouterFunction<ServerResponse> applyTo(RouterFunction<T> router) {
		return ((RouterFunction<ServerResponse>) router).filter(this);
	}

	@Override
	public Mono<ServerResponse> filter(ServerRequest request, HandlerFunction<ServerResponse> next) {
		if (request.attributes().putIfAbsent(FILTERED_ATTRIBUTE, Boolean.TRUE) != null) {
			return next.handle(request);
		}
		if (request.method() == HttpMethod.GET) {
			return dispatch(request, next);
		}
		Duration timeout = this.routing.getBodyTimeout();
		// A declared length is checked before anything is read (by the routing); a body of undeclared length
		// (chunked) is counted as it streams.
		long limit = request.headers().contentLength().isPresent() ? Long.MAX_VALUE : this.routing.getMaxBodySize();
		if (timeout == null && limit == Long.MAX_VALUE) {
			return dispatch(request, next);
		}
		return dispatch(withGuardedBody(request, timeout, limit), next).onErrorResume(
				(ex) -> this.routing.bodyRefused(ex) != null,
				(ex) -> response(Objects.requireNonNull(this.routing.bodyRefused(ex))));
	}

	// The same request, but a body that must keep coming (a pause longer than the timeout ends it with an error) and
	// must not exceed the limit (a part that goes past it ends it with an error, before any reader holds it). The
	// rebuilt request keeps the application's message readers, and its exchange (which a forward relays) everything
	// else of the original, the client's address included.
	private static ServerRequest withGuardedBody(ServerRequest request, @Nullable Duration timeout, long limit) {
		ServerWebExchange exchange = request.exchange();
		Scheduler timer = (timeout != null) ? timerFor(exchange.getRequest()) : null;
		ServerHttpRequest guarded = new ServerHttpRequestDecorator(exchange.getRequest()) {

			@Override
			public Flux<DataBuffer> getBody() {
				Flux<DataBuffer> body = super.getBody();
				if (limit != Long.MAX_VALUE) {
					body = body.transformDeferred((parts) -> limited(parts, limit));
				}
				return (timer != null)
						? body.timeout(timeout, Flux.error(RequestBodyRefusedException::timedOut), timer) : body;
			}

		};
		return ServerRequest.create(exchange.mutate().request(guarded).build(), request.messageReaders());
	}

	private static Flux<DataBuffer> limited(Flux<DataBuffer> parts, long limit) {
		long[] received = new long[1];
		return parts.map((part) -> {
			received[0] += part.readableByteCount();
			if (received[0] > limit) {
				DataBufferUtils.release(part);
				throw RequestBodyRefusedException.tooLarge();
			}
			return part;
		});
	}

	// The timer of a request's body: its connection's own event loop, where the body arrives, so arming and
	// cancelling it costs no hand-over to another thread (with Reactor's shared timer, those wake-ups were most of
	// the local path's overhead in the benchmark's profile).
	private static Scheduler timerFor(ServerHttpRequest request) {
		Object nativeRequest = ServerHttpRequestDecorator.getNativeRequest(request);
		if (nativeRequest instanceof Connection connection) {
			return EVENT_LOOP_TIMERS.computeIfAbsent(connection.channel().eventLoop(), (eventLoop) -> {
				eventLoop.terminationFuture().addListener((terminated) -> EVENT_LOOP_TIMERS.remove(eventLoop));
				return Schedulers.fromExecutorService(eventLoop, "mcp-affinity-body-timeout");
			});
		}
		return Schedulers.parallel();
	}

	private Mono<ServerResponse> dispatch(ServerRequest request, HandlerFunction<ServerResponse> next) {
		SessionRouting.Request read = new SessionRouting.Request(request.method(), request.headers()::firstHeader,
				request.queryParam(McpHttpHeaders.LEGACY_SESSION_PARAMETER).orElse(null),
				request.headers().contentLength().orElse(-1), request.uri(), principal(request));
		return this.routing.route(read).flatMap((route) -> handle(request, next, route));
	}

	private Mono<ServerResponse> handle(ServerRequest request, HandlerFunction<ServerResponse> next, Route route) {
		if (route instanceof Local local) {
			return handleOwned(asTransportSees(request, local), next, local.sessionId());
		}
		if (route instanceof Forward forward) {
			// The request's own exchange: it carries the body as this filter sees it (with its timeout, if any).
			return Mono.just(new ForwardedResponse((exchange) -> relay(request.exchange(), forward)));
		}
		if (route instanceof Refused refused) {
			return response(refused.answer());
		}
		return handleSessionless(request, next);
	}

	private Mono<ServerResponse> handleSessionless(ServerRequest request, HandlerFunction<ServerResponse> next) {
		return next.handle(request).flatMap((response) -> {
			String created = response.headers().getFirst(McpHttpHeaders.SESSION_ID);
			if (created != null) {
				// The id reaches the client only once the cluster can route it; otherwise the client is asked to retry.
				return this.routing.establish(created, principal(request))
					.map((announced) -> announced.equals(created) ? response
							: new SessionIdAnnouncingResponse(response, announced))
					.onErrorResume(SessionNotClaimedException.class,
							(ex) -> response(JsonRpcErrors.STORE_UNAVAILABLE));
			}
			if (request.method() == HttpMethod.GET && isEventStream(response)) {
				// Legacy HTTP+SSE: the session id is only in the stream's first event.
				return Mono.just(new LegacyEndpointClaimingResponse(response,
						(id) -> this.routing.establish(id, principal(request))));
			}
			return Mono.just(response);
		});
	}

	private static Mono<Principal> principal(ServerRequest request) {
		return request.principal().map(Principal.class::cast);
	}

	// The request as the MCP transport must see it: with the id it minted, when the client sent one naming this
	// instance. The rebuilt request keeps the original's exchange, body and attributes.
	private static ServerRequest asTransportSees(ServerRequest request, Local local) {
		SessionId transportId = local.transportId();
		if (transportId.equals(local.sessionId())) {
			return request;
		}
		ServerWebExchange exchange = request.exchange();
		ServerHttpRequest.Builder rebuilt = exchange.getRequest().mutate();
		if (request.headers().firstHeader(McpHttpHeaders.SESSION_ID) != null) {
			rebuilt.headers((headers) -> headers.set(McpHttpHeaders.SESSION_ID, transportId.value()));
		}
		if (request.queryParam(McpHttpHeaders.LEGACY_SESSION_PARAMETER).isPresent()) {
			rebuilt.uri(UriComponentsBuilder.fromUri(request.uri())
				.replaceQueryParam(McpHttpHeaders.LEGACY_SESSION_PARAMETER,
						URLEncoder.encode(transportId.value(), StandardCharsets.UTF_8))
				.build(true)
				.toUri());
		}
		return ServerRequest.create(exchange.mutate().request(rebuilt.build()).build(), request.messageReaders());
	}

	private Mono<ServerResponse> handleOwned(ServerRequest request, HandlerFunction<ServerResponse> next,
			SessionId sessionId) {
		Mono<ServerResponse> handled = next.handle(request);
		if (request.method() != HttpMethod.DELETE) {
			return handled;
		}
		return handled.flatMap((response) -> response.statusCode().is2xxSuccessful()
				? this.routing.ended(sessionId).thenReturn(response) : Mono.just(response));
	}

	private Mono<Void> relay(ServerWebExchange exchange, Forward forward) {
		long start = System.nanoTime();
		return this.forwarder
			.forward(exchange, forward.sessionId(), forward.owner(), () -> this.routing.forwardAnswered(forward, start))
			.onErrorResume((ex) -> {
				if (exchange.getResponse().isCommitted()) {
					this.routing.forwardBroken(start);
					return Mono.error(ex);
				}
				return this.routing.forwardFailed(forward, failure(ex), ex, start)
					.flatMap((answer) -> writeTo(answer, exchange.getResponse()))
					.switchIfEmpty(Mono.error(ex));
			});
	}

	private static @Nullable ForwardFailure failure(Throwable error) {
		if (OwnerForwarder.isUnreachable(error)) {
			return ForwardFailure.UNREACHABLE;
		}
		if (OwnerForwarder.isConnectTimeout(error)) {
			return ForwardFailure.CONNECT_TIMEOUT;
		}
		if (OwnerForwarder.isTimeout(error)) {
			return ForwardFailure.RESPONSE_TIMEOUT;
		}
		return null;
	}

	private static boolean isEventStream(ServerResponse response) {
		@Nullable MediaType contentType = response.headers().getContentType();
		return contentType != null && MediaType.TEXT_EVENT_STREAM.isCompatibleWith(contentType);
	}

	/** An answer of the affinity layer, as a response. */
	static Mono<ServerResponse> response(JsonRpcErrors answer) {
		return ServerResponse.status(answer.status()).headers((headers) -> headers.addAll(answer.headers()))
			.bodyValue(answer.body());
	}

	/** An answer of the affinity layer, written straight to a response not yet committed. */
	static Mono<Void> writeTo(JsonRpcErrors answer, ServerHttpResponse response) {
		response.setStatusCode(answer.status());
		response.getHeaders().addAll(answer.headers());
		byte[] body = answer.body();
		response.getHeaders().setContentLength(body.length);
		return response.writeWith(Mono.fromSupplier(() -> response.bufferFactory().wrap(body)));
	}

}
