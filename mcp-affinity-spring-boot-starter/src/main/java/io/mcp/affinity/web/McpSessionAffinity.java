package io.mcp.affinity.web;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.InvalidSessionIdException;
import io.mcp.affinity.core.OwnerResolution;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.core.SessionOwnerResolver;
import io.mcp.affinity.web.RoutingObserver.Decision;
import io.mcp.affinity.web.RoutingObserver.ForwardOutcome;
import io.netty.channel.EventLoop;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpMethod;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
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
 * Session affinity for an MCP router: every request that carries a session reaches the instance that owns it.
 * <ul>
 * <li>No session (initialize, the legacy SSE GET, or any sessionless 2026-07-28 request): the local handler takes it,
 * untouched and without any store access; a session the local handler creates is made routable before the client
 * learns its id (claimed in the store, or in session-id mode given an id that names this instance: then the client
 * only ever sees that id, and the transport only ever its own).</li>
 * <li>A session this instance owns: the local handler takes it. A DELETE it accepts ends the ownership, so every
 * instance answers 404 for the id from then on, whatever the MCP transport does.</li>
 * <li>A session a live other instance owns: forwarded there (never a second time).</li>
 * <li>An unknown, ended or stale session: 404 with a JSON-RPC error, so the client re-initializes.</li>
 * </ul>
 * Apply it with {@link #applyTo(RouterFunction)} or {@code router.filter(sessionAffinity)}; the starter applies it to
 * the router Spring AI's MCP server registers.
 */
public final class McpSessionAffinity implements HandlerFilterFunction<ServerResponse, ServerResponse> {

	private static final Logger logger = LoggerFactory.getLogger(McpSessionAffinity.class);

	// One timer per event loop (a handful per application), created on first use and forgotten when its loop ends.
	// Never disposed here: disposing one would shut its event loop down.
	private static final Map<EventLoop, Scheduler> EVENT_LOOP_TIMERS = new ConcurrentHashMap<>();

	// Set on an exchange once filtered, so a router wrapped twice (by hand and by the starter) is filtered once.
	private static final String FILTERED_ATTRIBUTE = McpSessionAffinity.class.getName() + ".filtered";

	private final SessionOwnerResolver resolver;

	private final OwnerForwarder forwarder;

	private final RoutingObserver observer;

	private @Nullable ForwardSignature signature;

	private long maxBodySize = Long.MAX_VALUE;

	private volatile boolean draining;

	private @Nullable Duration bodyTimeout;

	// Session id to the name of the principal that created it, for sessions created here by an authenticated user.
	private @Nullable Cache<String, String> principals;

	// Owners already reported unreachable: one warning per owner and outage, not one per request.
	private final Cache<String, Boolean> reportedUnreachable = Caffeine.newBuilder()
		.expireAfterWrite(Duration.ofMinutes(1))
		.maximumSize(1_000)
		.build();

	/**
	 * Creates the filter.
	 * @param resolver decides where a session's requests go
	 * @param forwarder forwards requests to other instances
	 */
	public McpSessionAffinity(SessionOwnerResolver resolver, OwnerForwarder forwarder) {
		this(resolver, forwarder, RoutingObserver.NONE);
	}

	/**
	 * Creates the filter.
	 * @param resolver decides where a session's requests go
	 * @param forwarder forwards requests to other instances
	 * @param observer hears every decision, for metrics
	 */
	public McpSessionAffinity(SessionOwnerResolver resolver, OwnerForwarder forwarder, RoutingObserver observer) {
		this.resolver = Objects.requireNonNull(resolver, "resolver must not be null");
		this.forwarder = Objects.requireNonNull(forwarder, "forwarder must not be null");
		this.observer = Objects.requireNonNull(observer, "observer must not be null");
	}

	/**
	 * Requires every request that claims to be forwarded to carry a valid signature; others get 403.
	 * @param signature the verifier
	 */
	public void setSignature(ForwardSignature signature) {
		this.signature = signature;
	}

	/**
	 * Sets the largest request body accepted: a request that declares a larger one gets 413 with a JSON-RPC error
	 * instead of reaching a handler that would fail on it with a 500. Spring's codecs buffer an MCP message whole, so
	 * this is their {@code spring.codec.max-in-memory-size}.
	 * @param maxBodySize the limit in bytes
	 */
	public void setMaxBodySize(long maxBodySize) {
		this.maxBodySize = maxBodySize;
	}

	/**
	 * Stops claiming new sessions: this instance is shutting down. A session its handler still creates stays local
	 * and ends with it; the sessions it already owns are served until the shutdown releases them.
	 */
	public void startDraining() {
		this.draining = true;
	}

	/**
	 * Cuts off a client that stops sending its request body: when no part of the body arrives for this long, the
	 * request ends with 408 and a JSON-RPC error, locally or on the way to the owner, instead of holding a connection.
	 * @param bodyTimeout the longest pause between two parts of a request body
	 */
	public void setBodyTimeout(Duration bodyTimeout) {
		this.bodyTimeout = bodyTimeout;
	}

	/**
	 * Binds every session created here by an authenticated user to that user (the MCP specification's advice against
	 * session hijacking): a request for it from another principal, or from none, gets 404 as if the session did not
	 * exist. The owner checks, so forwarded requests are checked too (their {@code Authorization} travels with them).
	 * @param idleTime how long a binding is kept after the session was last used (the ownership time-to-live)
	 */
	public void bindSessionsToPrincipals(Duration idleTime) {
		this.principals = Caffeine.newBuilder().expireAfterAccess(idleTime).build();
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
		Duration timeout = this.bodyTimeout;
		// A declared length is checked before anything is read (see dispatch); a body of undeclared length (chunked)
		// is counted as it streams.
		long limit = request.headers().contentLength().isPresent() ? Long.MAX_VALUE : this.maxBodySize;
		if (timeout == null && limit == Long.MAX_VALUE) {
			return dispatch(request, next);
		}
		return dispatch(withGuardedBody(request, timeout, limit), next)
			.onErrorResume((ex) -> causedBy(ex, BodyTimeoutException.class), (ex) -> JsonRpcErrors.BODY_TIMEOUT.response())
			.onErrorResume((ex) -> causedBy(ex, BodyTooLargeException.class), (ex) -> {
				this.observer.routed(Decision.INVALID);
				return JsonRpcErrors.BODY_TOO_LARGE.response();
			});
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
				return (timer != null) ? body.timeout(timeout, Flux.error(BodyTimeoutException::new), timer) : body;
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
				throw new BodyTooLargeException();
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

	/** The request body, of undeclared length, went past the limit. */
	static final class BodyTooLargeException extends RuntimeException {

		BodyTooLargeException() {
			super("Request body too large", null, false, false);
		}

	}

	/** The client stopped sending its request body. */
	static final class BodyTimeoutException extends RuntimeException {

		BodyTimeoutException() {
			super("Request body not received in time", null, false, false);
		}

	}

	private Mono<ServerResponse> dispatch(ServerRequest request, HandlerFunction<ServerResponse> next) {
		if (request.headers().contentLength().orElse(0) > this.maxBodySize) {
			this.observer.routed(Decision.INVALID);
			return JsonRpcErrors.BODY_TOO_LARGE.response();
		}
		String header = request.headers().firstHeader(McpHttpHeaders.SESSION_ID);
		String parameter = request.queryParam(McpHttpHeaders.LEGACY_SESSION_PARAMETER).orElse(null);
		if (header != null && parameter != null && !header.equals(parameter)) {
			this.observer.routed(Decision.INVALID);
			return JsonRpcErrors.CONFLICTING_SESSION_IDS.response();
		}
		String raw = (header != null) ? header : parameter;
		if (raw == null) {
			this.observer.routed(Decision.SESSIONLESS);
			return handleSessionless(request, next);
		}
		SessionId sessionId;
		try {
			sessionId = SessionId.of(raw);
		}
		catch (InvalidSessionIdException ex) {
			logger.debug("RejectedSessionId reason={}", ex.getMessage());
			this.observer.routed(Decision.INVALID);
			return JsonRpcErrors.INVALID_SESSION_ID.response();
		}
		String forwardedBy = request.headers().firstHeader(McpHttpHeaders.FORWARDED_BY);
		if (forwardedBy != null && this.signature != null) {
			String rejection = this.signature.rejection(request.headers().firstHeader(McpHttpHeaders.SIGNATURE),
					request.method().name(), OwnerForwarder.pathAndQuery(request.uri()), sessionId.value(),
					forwardedBy);
			if (rejection != null) {
				logger.debug("ForwardRejected session={} reason={}", sessionId, rejection);
				this.observer.routed(Decision.INVALID);
				return JsonRpcErrors.FORGED_FORWARD.response();
			}
		}
		return this.resolver.resolve(sessionId, forwardedBy != null)
			.flatMap((resolution) -> route(request, next, sessionId, resolution));
	}

	private Mono<ServerResponse> route(ServerRequest request, HandlerFunction<ServerResponse> next, SessionId sessionId,
			OwnerResolution resolution) {
		return switch (resolution.kind()) {
			case LOCAL -> handleOwned(request, next, sessionId);
			case REMOTE -> forward(request, sessionId, Objects.requireNonNull(resolution.owner()));
			case UNKNOWN -> notFound(Decision.NOT_FOUND);
			case STALE -> notFound(Decision.STALE);
			case UNAVAILABLE -> {
				this.observer.routed(Decision.UNAVAILABLE);
				yield JsonRpcErrors.STORE_UNAVAILABLE.response();
			}
		};
	}

	private Mono<ServerResponse> notFound(Decision decision) {
		this.observer.routed(decision);
		return JsonRpcErrors.SESSION_NOT_FOUND.response();
	}

	private Mono<ServerResponse> handleSessionless(ServerRequest request, HandlerFunction<ServerResponse> next) {
		return next.handle(request).flatMap((response) -> {
			String created = response.headers().getFirst(McpHttpHeaders.SESSION_ID);
			if (created != null) {
				// The id reaches the client only once the cluster can route it; otherwise the client is asked to retry.
				return establish(request, created)
					.map((announced) -> announced.equals(created) ? response
							: new SessionIdAnnouncingResponse(response, announced))
					.onErrorResume(SessionNotClaimedException.class, (ex) -> JsonRpcErrors.STORE_UNAVAILABLE.response());
			}
			if (request.method() == HttpMethod.GET && isEventStream(response)) {
				// Legacy HTTP+SSE: the session id is only in the stream's first event.
				return Mono.just(new LegacyEndpointClaimingResponse(response, (id) -> establish(request, id)));
			}
			return Mono.just(response);
		});
	}

	// Emits the id the client must get, once the new session is routable from every instance under that id (the
	// transport's id, or in session-id mode one that names this instance), or fails with SessionNotClaimedException.
	private Mono<String> establish(ServerRequest request, String created) {
		if (this.draining) {
			logger.debug("SessionNotClaimed: this instance is draining");
			return Mono.just(created);
		}
		SessionId sessionId;
		try {
			sessionId = SessionId.of(created);
		}
		catch (InvalidSessionIdException ex) {
			logger.warn("SessionClaimFailed: the MCP handler minted an id this layer cannot route ({}); the session is "
					+ "usable on this instance only", ex.getMessage());
			return Mono.just(created);
		}
		return this.resolver.establish(sessionId)
			.onErrorResume((ex) -> {
				// The store did not confirm in time (it may yet record the claim): undo it in the background.
				logger.warn("SessionClaimFailed session={}: the client is asked to retry ({})", sessionId,
						ex.getMessage());
				this.resolver.release(sessionId).subscribe(null, (releaseFailure) -> logger
					.debug("Releasing the unconfirmed session failed; its entry expires on its own", releaseFailure));
				return Mono.empty();
			})
			.switchIfEmpty(Mono.error(SessionNotClaimedException::new))
			.flatMap((announced) -> bindToPrincipal(request, announced.value()).thenReturn(announced.value()));
	}

	/** A new session could not be made routable from every instance, so its id must not reach the client. */
	static final class SessionNotClaimedException extends RuntimeException {

		SessionNotClaimedException() {
			super("Session not claimed", null, false, false);
		}

	}

	private Mono<Void> bindToPrincipal(ServerRequest request, String created) {
		Cache<String, String> bindings = this.principals;
		if (bindings == null) {
			return Mono.empty();
		}
		return request.principal().doOnNext((principal) -> bindings.put(created, principal.getName())).then();
	}

	// Whether the request comes from the principal its session is bound to (or the session is bound to nobody).
	private Mono<Boolean> fromBoundPrincipal(ServerRequest request, SessionId sessionId) {
		Cache<String, String> bindings = this.principals;
		String bound = (bindings != null) ? bindings.getIfPresent(sessionId.value()) : null;
		if (bound == null) {
			return Mono.just(true);
		}
		return request.principal().map((principal) -> bound.equals(principal.getName())).defaultIfEmpty(false);
	}

	private Mono<ServerResponse> handleOwned(ServerRequest request, HandlerFunction<ServerResponse> next,
			SessionId sessionId) {
		return fromBoundPrincipal(request, sessionId).flatMap((allowed) -> {
			if (!allowed) {
				logger.debug("SessionPrincipalMismatch session={}", sessionId);
				return notFound(Decision.NOT_FOUND);
			}
			this.observer.routed(Decision.LOCAL);
			return handleOwnedBy(asTransportSees(request, sessionId), next, sessionId);
		});
	}

	// The request as the MCP transport must see it: with the id it minted, when the client sent one naming this
	// instance. The rebuilt request keeps the original's exchange, body and attributes.
	private static ServerRequest asTransportSees(ServerRequest request, SessionId sessionId) {
		SessionId transportId = SessionOwnerResolver.transportId(sessionId);
		if (transportId.equals(sessionId)) {
			return request;
		}
		ServerWebExchange exchange = request.exchange();
		ServerHttpRequest.Builder local = exchange.getRequest().mutate();
		if (request.headers().firstHeader(McpHttpHeaders.SESSION_ID) != null) {
			local.headers((headers) -> headers.set(McpHttpHeaders.SESSION_ID, transportId.value()));
		}
		if (request.queryParam(McpHttpHeaders.LEGACY_SESSION_PARAMETER).isPresent()) {
			local.uri(UriComponentsBuilder.fromUri(request.uri())
				.replaceQueryParam(McpHttpHeaders.LEGACY_SESSION_PARAMETER,
						URLEncoder.encode(transportId.value(), StandardCharsets.UTF_8))
				.build(true)
				.toUri());
		}
		return ServerRequest.create(exchange.mutate().request(local.build()).build(), request.messageReaders());
	}

	private Mono<ServerResponse> handleOwnedBy(ServerRequest request, HandlerFunction<ServerResponse> next,
			SessionId sessionId) {
		Mono<ServerResponse> handled = next.handle(request);
		if (request.method() != HttpMethod.DELETE) {
			return handled;
		}
		return handled.flatMap((response) -> {
			if (!response.statusCode().is2xxSuccessful()) {
				return Mono.just(response);
			}
			if (this.principals != null) {
				this.principals.invalidate(sessionId.value());
			}
			return this.resolver.release(sessionId).onErrorReturn(false).thenReturn(response);
		});
	}

	private Mono<ServerResponse> forward(ServerRequest request, SessionId sessionId, InstanceIdentity owner) {
		if (request.headers().firstHeader(McpHttpHeaders.FORWARDED_BY) != null) {
			// Already forwarded once, and we do not own it either: the instances disagree. Stop here.
			logger.debug("ForwardingRefused session={} reason=already-forwarded", sessionId);
			return notFound(Decision.NOT_FOUND);
		}
		this.observer.routed(Decision.FORWARDED);
		logger.debug("ForwardingRequest session={} method={} owner={}", sessionId, request.method(), owner.address());
		// The request's own exchange: it carries the body as this filter sees it (with its timeout, if any).
		return Mono.just(new ForwardedResponse((exchange) -> relay(request.exchange(), sessionId, owner)));
	}

	private Mono<Void> relay(ServerWebExchange exchange, SessionId sessionId, InstanceIdentity owner) {
		long start = System.nanoTime();
		return this.forwarder.forward(exchange, sessionId, owner, () -> {
			this.observer.forwarded(ForwardOutcome.SUCCESS, System.nanoTime() - start);
			this.reportedUnreachable.invalidate(owner.epoch());
		}).onErrorResume((ex) -> !exchange.getResponse().isCommitted() && OwnerForwarder.isUnreachable(ex), (ex) -> {
			this.observer.forwarded(ForwardOutcome.UNREACHABLE, System.nanoTime() - start);
			if (this.reportedUnreachable.asMap().putIfAbsent(owner.epoch(), Boolean.TRUE) == null) {
				logger.warn("OwnerUnreachable owner={} ({}); its sessions get 404 and re-initialize", owner.address(),
						ex.getMessage());
			}
			return this.resolver.releaseUnreachable(sessionId, owner)
				.onErrorReturn(false)
				.then(JsonRpcErrors.SESSION_NOT_FOUND.writeTo(exchange.getResponse()));
		}).onErrorResume((ex) -> !exchange.getResponse().isCommitted() && ForwardFailure.of(ex) != null, (ex) -> {
			ForwardFailure failure = Objects.requireNonNull(ForwardFailure.of(ex));
			this.observer.forwarded(failure.outcome(), System.nanoTime() - start);
			return failure.answer().writeTo(exchange.getResponse());
		}).doOnError((ex) -> this.observer.forwarded(ForwardOutcome.ERROR, System.nanoTime() - start));
	}

	/**
	 * A forward that failed before the owner's answer began, and what the client gets instead (an owner that is gone
	 * is handled apart: its entry is removed).
	 */
	private record ForwardFailure(ForwardOutcome outcome, JsonRpcErrors answer) {

		static @Nullable ForwardFailure of(Throwable error) {
			if (OwnerForwarder.isConnectTimeout(error)) {
				return new ForwardFailure(ForwardOutcome.TIMEOUT, JsonRpcErrors.OWNER_UNAVAILABLE);
			}
			if (OwnerForwarder.isTimeout(error)) {
				return new ForwardFailure(ForwardOutcome.TIMEOUT, JsonRpcErrors.OWNER_TIMEOUT);
			}
			if (causedBy(error, BodyTimeoutException.class)) {
				return new ForwardFailure(ForwardOutcome.ERROR, JsonRpcErrors.BODY_TIMEOUT);
			}
			if (causedBy(error, BodyTooLargeException.class)) {
				return new ForwardFailure(ForwardOutcome.ERROR, JsonRpcErrors.BODY_TOO_LARGE);
			}
			return null;
		}

	}

	private static boolean causedBy(Throwable error, Class<? extends Throwable> type) {
		for (Throwable t = error; t != null; t = t.getCause()) {
			if (type.isInstance(t)) {
				return true;
			}
		}
		return false;
	}

	private static boolean isEventStream(ServerResponse response) {
		@Nullable MediaType contentType = response.headers().getContentType();
		return contentType != null && MediaType.TEXT_EVENT_STREAM.isCompatibleWith(contentType);
	}

}
