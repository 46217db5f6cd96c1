package io.mcp.affinity.web;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;

import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.web.SessionRouting.Forward;
import io.mcp.affinity.web.SessionRouting.ForwardFailure;
import io.mcp.affinity.web.SessionRouting.Local;
import io.mcp.affinity.web.SessionRouting.Owned;
import io.mcp.affinity.web.SessionRouting.Refused;
import io.mcp.affinity.web.SessionRouting.Route;
import io.mcp.affinity.web.SessionRouting.SessionNotClaimedException;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;
import org.jspecify.annotations.Nullable;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.AbstractServerHttpRequest;
import org.springframework.http.server.reactive.HttpHandler;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.http.server.reactive.ServerHttpResponseDecorator;
import org.springframework.http.server.reactive.observation.ServerRequestObservationContext;
import org.springframework.web.reactive.function.server.EntityResponse;
import org.springframework.web.reactive.function.server.HandlerFilterFunction;
import org.springframework.web.reactive.function.server.HandlerFunction;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilterChain;
import org.springframework.web.util.UriComponentsBuilder;
import org.springframework.web.util.pattern.PathPattern;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.util.context.Context;

/**
 * Session affinity for a WebFlux MCP router: every request that carries a session reaches the instance that owns it.
 * The WebFlux adapter of {@link SessionRouting}, which decides what to do with each request; this class reads the
 * request, calls the local handler, and relays a forward through {@link OwnerForwarder}.
 * <p>
 * Apply it with {@link #applyTo(RouterFunction)} or {@code router.filter(sessionAffinity)}; the starter applies it to
 * the router Spring AI's MCP server registers.
 */
public final class McpSessionAffinity implements HandlerFilterFunction<ServerResponse, ServerResponse> {

	// Set on an exchange once filtered, so a router wrapped twice (by hand and by the starter) is filtered once.
	private static final String FILTERED_ATTRIBUTE = McpSessionAffinity.class.getName() + ".filtered";

	// The route decided before the web handler ran, for the router filter to finish (in the request's Reactor context).
	private static final String DECIDED_KEY = McpSessionAffinity.class.getName() + ".decided";

	// Enough for any MCP router (Spring AI's have one to three paths); past it, nothing more is remembered.
	private static final int MAX_ENDPOINTS = 32;

	// The methods and paths this router has served, with the pattern each matched: requests for them are forwarded
	// early, and observed (when they are) under that pattern as the router would have.
	private final Map<String, String> endpoints = new ConcurrentHashMap<>();

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
		return Mono.deferContextual((context) -> {
			Route decided = context.getOrDefault(DECIDED_KEY, null);
			if (decided == null) {
				// Not decided early: its endpoint may not be known there yet (a decided one is).
				remember(request);
			}
			ServerWebExchange guarded = withGuardedBody(request.exchange());
			if (guarded == request.exchange()) {
				return dispatch(request, next, decided);
			}
			return dispatch(ServerRequest.create(guarded, request.messageReaders()), next, decided).onErrorResume(
					(ex) -> this.routing.bodyRefused(ex) != null,
					(ex) -> response(Objects.requireNonNull(this.routing.bodyRefused(ex))));
		});
	}

	/**
	 * Forwards a request for a session another instance owns before Spring's web handler sees it, straight on Reactor
	 * Netty's request and response: no exchange, no server observation, no web filters, no handler look-up. Every other
	 * request goes on to the web handler, with what was decided for it kept for the router filter.
	 * @param request the request, as the server received it
	 * @param response the response, nothing written to it yet
	 * @param next Spring's web handler
	 * @return completion of the forward, or of the web handler
	 * @see SessionForwardingHttpHandler
	 */
	Mono<Void> forwardBeforeWebHandler(ServerHttpRequest request, ServerHttpResponse response, HttpHandler next) {
		if (!isReactorNetty(request)) {
			// WebFlux on another server (Tomcat, Jetty): the router filter forwards, through the exchange.
			return next.handle(request, response);
		}
		return forwardEarly(request, (forward, pattern) -> {
			HttpServerRequest nativeRequest = ServerHttpRequestDecorator.getNativeRequest(request);
			HttpServerResponse nativeResponse = ServerHttpResponseDecorator.getNativeResponse(response);
			Flux<ByteBuf> body = guarded(nativeRequest.receive().retain(), request, ByteBuf::readableBytes,
					ReferenceCountUtil::release);
			return relay(nativeResponse, forward, (onHeaders) -> this.forwarder.forward(request, body, nativeResponse,
					forward.sessionId(), forward.owner(), onHeaders));
		}, () -> next.handle(request, response));
	}

	private static boolean isReactorNetty(ServerHttpRequest request) {
		ServerHttpRequest server = request;
		while (server instanceof ServerHttpRequestDecorator decorator) {
			server = decorator.getDelegate();
		}
		return server instanceof AbstractServerHttpRequest received
				&& received.getNativeRequest() instanceof HttpServerRequest;
	}

	/**
	 * Forwards a request for a session another instance owns ahead of the application's web filters, under the server
	 * observation (for a trace that shows the forwarder). Every other request continues down the filter chain, with
	 * what was decided for it kept for the router filter.
	 * @param exchange the exchange, as the web handler received it
	 * @param chain the application's filters, then its handlers
	 * @return completion of the forward, or of the chain
	 * @see SessionForwardingWebFilter
	 */
	Mono<Void> forwardBeforeFilters(ServerWebExchange exchange, WebFilterChain chain) {
		return forwardEarly(exchange.getRequest(), (forward, pattern) -> {
			ServerRequestObservationContext.findCurrent(exchange.getAttributes())
				.ifPresent((observation) -> observation.setPathPattern(pattern));
			return relay(withGuardedBody(exchange), forward);
		}, () -> chain.filter(exchange));
	}

	// Either early forward: the application's own filters run on the owner instead (security included: Authorization
	// travels end to end). Only requests for a method and path the MCP router has served are looked at: the first
	// request of each takes the router's path. The forwarding function gets the endpoint's pattern.
	private Mono<Void> forwardEarly(ServerHttpRequest request, BiFunction<Forward, String, Mono<Void>> forwarding,
			Supplier<Mono<Void>> next) {
		HttpMethod method = request.getMethod();
		String pattern = (method != HttpMethod.HEAD)
				? this.endpoints.get(endpoint(method, request.getPath().pathWithinApplication().value())) : null;
		if (pattern == null) {
			return next.get();
		}
		String header = request.getHeaders().getFirst(McpHttpHeaders.SESSION_ID);
		String parameter = (request.getURI().getRawQuery() != null)
				? request.getQueryParams().getFirst(McpHttpHeaders.LEGACY_SESSION_PARAMETER) : null;
		if (header == null && parameter == null) {
			return next.get();
		}
		SessionRouting.Request read = new SessionRouting.Request(method, request.getHeaders()::getFirst, parameter,
				request.getHeaders().getContentLength(), request::getURI, Mono.empty());
		return this.routing.decide(read).flatMap((route) -> (route instanceof Forward forward)
				? forwarding.apply(forward, pattern) : next.get().contextWrite(Context.of(DECIDED_KEY, route)));
	}

	private void remember(ServerRequest request) {
		if (this.endpoints.size() < MAX_ENDPOINTS) {
			Object matched = request.attributes().get(RouterFunctions.MATCHING_PATTERN_ATTRIBUTE);
			String pattern = (matched instanceof PathPattern pathPattern) ? pathPattern.getPatternString()
					: request.path();
			this.endpoints.putIfAbsent(endpoint(request.method(), request.path()), pattern);
		}
	}

	private static String endpoint(HttpMethod method, String path) {
		return method.name() + " " + path;
	}

	// The same exchange, but with its request body guarded (see guarded). The rebuilt exchange keeps everything else
	// of the original, the client's address included.
	private ServerWebExchange withGuardedBody(ServerWebExchange exchange) {
		ServerHttpRequest request = exchange.getRequest();
		if (!needsGuard(request)) {
			return exchange;
		}
		ServerHttpRequest guarded = new ServerHttpRequestDecorator(request) {

			@Override
			public Flux<DataBuffer> getBody() {
				return guarded(super.getBody(), request, DataBuffer::readableByteCount, DataBufferUtils::release);
			}

		};
		return exchange.mutate().request(guarded).build();
	}

	private boolean needsGuard(ServerHttpRequest request) {
		return request.getMethod() != HttpMethod.GET
				&& (this.routing.getBodyTimeout() != null || this.routing.getMaxBodySize() != Long.MAX_VALUE);
	}

	// A request body that must keep coming (a pause longer than the timeout ends it with an error) and must not exceed
	// the limit (a part that goes past it ends it with an error, before any reader holds it). A declared length is
	// checked before anything is read (by the routing); a body of undeclared length (chunked) is counted as it streams.
	private <T> Flux<T> guarded(Flux<T> body, ServerHttpRequest request, ToIntFunction<T> size, Consumer<T> release) {
		if (!needsGuard(request)) {
			return body;
		}
		Duration timeout = this.routing.getBodyTimeout();
		long limit = (request.getHeaders().getContentLength() >= 0) ? Long.MAX_VALUE : this.routing.getMaxBodySize();
		if (limit != Long.MAX_VALUE) {
			body = body.transformDeferred((parts) -> limited(parts, limit, size, release));
		}
		return (timeout != null)
				? body.timeout(timeout, Flux.error(RequestBodyRefusedException::timedOut), EventLoopTimers.of(request))
				: body;
	}

	private static <T> Flux<T> limited(Flux<T> parts, long limit, ToIntFunction<T> size, Consumer<T> release) {
		long[] received = new long[1];
		return parts.map((part) -> {
			received[0] += size.applyAsInt(part);
			if (received[0] > limit) {
				release.accept(part);
				throw RequestBodyRefusedException.tooLarge();
			}
			return part;
		});
	}

	private Mono<ServerResponse> dispatch(ServerRequest request, HandlerFunction<ServerResponse> next,
			@Nullable Route decided) {
		Mono<Route> route;
		if (decided instanceof Owned owned) {
			route = this.routing.admit(owned, principal(request));
		}
		else if (decided != null) {
			route = Mono.just(decided);
		}
		else {
			route = this.routing.route(new SessionRouting.Request(request.method(), request.headers()::firstHeader,
					request.queryParam(McpHttpHeaders.LEGACY_SESSION_PARAMETER).orElse(null),
					request.headers().contentLength().orElse(-1), request::uri, principal(request)));
		}
		return route.flatMap((routed) -> handle(request, next, routed));
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
		return next.handle(request).flatMap(McpSessionAffinity::withJsonRpcErrorBody).flatMap((response) -> {
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
		Mono<ServerResponse> handled = next.handle(request).flatMap(McpSessionAffinity::withJsonRpcErrorBody);
		if (request.method() != HttpMethod.DELETE) {
			return handled;
		}
		return handled.flatMap((response) -> response.statusCode().is2xxSuccessful()
				? this.routing.ended(sessionId).thenReturn(response) : Mono.just(response));
	}

	// The MCP handler's error answer with an exception, plain text or nothing as body, as a JSON-RPC error
	// (HandlerErrorBodies).
	private static Mono<ServerResponse> withJsonRpcErrorBody(ServerResponse response) {
		if (!response.statusCode().isError()) {
			return Mono.just(response);
		}
		if (!(response instanceof EntityResponse<?> answer)) {
			return Mono.just(new BodilessErrorAnswer(response));
		}
		byte[] body = HandlerErrorBodies.replacing(response.statusCode().value(), response.headers().getContentType(),
				answer.entity());
		if (body == null) {
			return Mono.just(response);
		}
		return ServerResponse.status(response.statusCode()).headers((headers) -> {
			headers.addAll(response.headers());
			headers.remove(HttpHeaders.CONTENT_LENGTH);
			headers.setContentType(MediaType.APPLICATION_JSON);
		}).cookies((cookies) -> cookies.addAll(response.cookies())).bodyValue(body);
	}

	private Mono<Void> relay(ServerWebExchange exchange, Forward forward) {
		ServerHttpResponse response = exchange.getResponse();
		return relay(forward,
				(onHeaders) -> this.forwarder.forward(exchange, forward.sessionId(), forward.owner(), onHeaders),
				response::isCommitted, (answer) -> writeTo(answer, response));
	}

	private Mono<Void> relay(HttpServerResponse response, Forward forward, Function<Runnable, Mono<Void>> forwarding) {
		return relay(forward, forwarding, response::hasSentHeaders, (answer) -> writeTo(answer, response));
	}

	// The forward, and the client's answer when it fails before the owner's answer began to reach the client.
	private Mono<Void> relay(Forward forward, Function<Runnable, Mono<Void>> forwarding, BooleanSupplier committed,
			Function<JsonRpcErrors, Mono<Void>> writer) {
		long start = System.nanoTime();
		return forwarding.apply(() -> this.routing.forwardAnswered(forward, start)).onErrorResume((ex) -> {
			if (committed.getAsBoolean()) {
				this.routing.forwardBroken(start);
				return Mono.error(ex);
			}
			return this.routing.forwardFailed(forward, failure(ex), ex, start)
				.defaultIfEmpty(JsonRpcErrors.FORWARD_FAILED)
				.flatMap(writer);
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
		if (OwnerForwarder.isConnectionLost(error)) {
			return ForwardFailure.ABORTED;
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

	/** An answer of the affinity layer, written straight to the server's response, its headers not yet sent. */
	static Mono<Void> writeTo(JsonRpcErrors answer, HttpServerResponse response) {
		response.status(answer.status().value());
		// Set, not added: a forward that failed after the owner's headers came in has copied them already.
		answer.headers().forEach((name, values) -> response.header(name, values.get(0)));
		byte[] body = answer.body();
		response.header(HttpHeaders.CONTENT_LENGTH, Integer.toString(body.length));
		return response.sendByteArray(Mono.just(body)).then();
	}

	/** An answer of the affinity layer, written straight to a response not yet committed. */
	static Mono<Void> writeTo(JsonRpcErrors answer, ServerHttpResponse response) {
		response.setStatusCode(answer.status());
		// Set, not added: a forward that failed after the owner's headers came in has copied them already.
		answer.headers().forEach(response.getHeaders()::put);
		byte[] body = answer.body();
		response.getHeaders().setContentLength(body.length);
		return response.writeWith(Mono.fromSupplier(() -> response.bufferFactory().wrap(body)));
	}

}
