package io.mcp.affinity.web;

import java.net.URI;
import java.security.Principal;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Supplier;

import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLPeerUnverifiedException;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.InvalidSessionIdException;
import io.mcp.affinity.core.OwnerResolution;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.core.SessionOwnerResolver;
import io.mcp.affinity.web.RoutingObserver.Decision;
import io.mcp.affinity.web.RoutingObserver.ForwardOutcome;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpMethod;
import org.springframework.web.util.DisconnectedClientHelper;
import reactor.core.publisher.Mono;

/**
 * What to do with an MCP request, decided once for both web stacks: each stack's adapter
 * ({@link McpSessionAffinity} on WebFlux, {@code ServletSessionAffinity} on the servlet stack) only reads the request,
 * calls the local handler and relays a forward, and asks this class everything else.
 * <ul>
 * <li>No session (initialize, the legacy SSE GET, or any sessionless 2026-07-28 request): the local handler takes it,
 * untouched and without any store access; a session the local handler creates is made routable before the client
 * learns its id ({@link #establish}).</li>
 * <li>A session this instance owns: the local handler takes it. A DELETE it accepts ends the ownership
 * ({@link #ended}), so every instance answers 404 for the id from then on.</li>
 * <li>A session a live other instance owns: forwarded there (never a second time).</li>
 * <li>An unknown, ended or stale session: 404 with a JSON-RPC error, so the client re-initializes; a malformed or
 * conflicting id 400, a forged forward 403, a body too large 413, a store that cannot answer 503.</li>
 * </ul>
 */
public final class SessionRouting {

	private static final Logger logger = LoggerFactory.getLogger(SessionRouting.class);

	private static final String TLS_HINT = " (the TLS handshake failed: the owner's certificate must be trusted by the "
			+ "SSL bundle mcp.affinity.forwarding.ssl-bundle names, else by the JVM's trust store, and must name the "
			+ "address the owner registered)";

	private final SessionOwnerResolver resolver;

	private final RoutingObserver observer;

	private @Nullable ForwardSignature signature;

	private long maxBodySize = Long.MAX_VALUE;

	private @Nullable Duration bodyTimeout;

	private volatile boolean draining;

	// Session id to the name of the principal that created it, for sessions created here by an authenticated user.
	private @Nullable Cache<String, String> principals;

	// Owners already reported unreachable: one warning per owner and outage, not one per request.
	private final Cache<String, Boolean> reportedUnreachable = reported();

	// Owners already reported for a forward that failed otherwise (see JsonRpcErrors.FORWARD_FAILED): the same.
	private final Cache<String, Boolean> reportedFailing = reported();

	/**
	 * Creates the decision.
	 * @param resolver decides where a session's requests go
	 * @param observer hears every decision, for metrics
	 */
	public SessionRouting(SessionOwnerResolver resolver, RoutingObserver observer) {
		this.resolver = Objects.requireNonNull(resolver, "resolver must not be null");
		this.observer = Objects.requireNonNull(observer, "observer must not be null");
	}

	/**
	 * Requires every request that claims to be forwarded to carry a valid signature; others get 403.
	 * @param signature the verifier
	 */
	public void setSignature(ForwardSignature signature) {
		this.signature = signature;
	}

	/** The verifier of forwards, {@code null} when forwards are not signed. */
	public @Nullable ForwardSignature getSignature() {
		return this.signature;
	}

	/**
	 * Sets the largest request body accepted: a request that declares a larger one gets 413 with a JSON-RPC error
	 * instead of reaching a handler that would fail on it with a 500, and one of undeclared length is cut off when it
	 * goes past it.
	 * @param maxBodySize the limit in bytes
	 */
	public void setMaxBodySize(long maxBodySize) {
		this.maxBodySize = maxBodySize;
	}

	/** The largest request body accepted, in bytes. */
	public long getMaxBodySize() {
		return this.maxBodySize;
	}

	/**
	 * Cuts off a client that stops sending its request body: when no part of the body arrives for this long, the
	 * request ends with 408 and a JSON-RPC error, locally or on the way to the owner, instead of holding a connection.
	 * @param bodyTimeout the longest pause between two parts of a request body
	 */
	public void setBodyTimeout(Duration bodyTimeout) {
		this.bodyTimeout = bodyTimeout;
	}

	/** The longest pause between two parts of a request body, or {@code null} for none. */
	public @Nullable Duration getBodyTimeout() {
		return this.bodyTimeout;
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
	 * Stops claiming new sessions: this instance is shutting down. A session its handler still creates stays local
	 * and ends with it; the sessions it already owns are served until the shutdown releases them.
	 */
	public void startDraining() {
		this.draining = true;
	}

	/**
	 * Decides where a request goes.
	 * @param request the request as the adapter reads it
	 * @return the route, never {@link Owned}; never an error (a store that cannot answer is a {@link Refused} 503)
	 */
	public Mono<Route> route(Request request) {
		return decide(request)
			.flatMap((route) -> (route instanceof Owned owned) ? admit(owned, request.principal()) : Mono.just(route));
	}

	/**
	 * Decides where a request goes as far as can be known before the application's own filters have run: a session
	 * owned here is {@link Owned}, for {@link #admit} to check against the request's principal once it is known.
	 * @param request the request as the adapter reads it (its principal is not read)
	 * @return the route; never an error (a store that cannot answer is a {@link Refused} 503)
	 */
	public Mono<Route> decide(Request request) {
		if (request.contentLength() > this.maxBodySize) {
			return Mono.just(refuse(Decision.INVALID, JsonRpcErrors.BODY_TOO_LARGE));
		}
		String header = request.header(McpHttpHeaders.SESSION_ID);
		String parameter = request.sessionParameter();
		if (header != null && parameter != null && !header.equals(parameter)) {
			return Mono.just(refuse(Decision.INVALID, JsonRpcErrors.CONFLICTING_SESSION_IDS));
		}
		String raw = (header != null) ? header : parameter;
		if (raw == null) {
			this.observer.routed(Decision.SESSIONLESS);
			return Mono.just(Sessionless.INSTANCE);
		}
		SessionId sessionId;
		try {
			sessionId = SessionId.of(raw);
		}
		catch (InvalidSessionIdException ex) {
			logger.debug("RejectedSessionId reason={}", ex.getMessage());
			return Mono.just(refuse(Decision.INVALID, JsonRpcErrors.INVALID_SESSION_ID));
		}
		String forwardedBy = request.header(McpHttpHeaders.FORWARDED_BY);
		if (forwardedBy != null && this.signature != null) {
			String rejection = this.signature.rejection(request.header(McpHttpHeaders.SIGNATURE),
					request.method().name(), pathAndQuery(request.uri().get()), sessionId.value(), forwardedBy);
			if (rejection != null) {
				logger.debug("ForwardRejected session={} reason={}", sessionId, rejection);
				return Mono.just(refuse(Decision.INVALID, JsonRpcErrors.FORGED_FORWARD));
			}
		}
		return this.resolver.resolve(sessionId, forwardedBy != null)
			.flatMap((resolution) -> route(request, sessionId, forwardedBy != null, resolution));
	}

	private Mono<Route> route(Request request, SessionId sessionId, boolean forwarded, OwnerResolution resolution) {
		return switch (resolution.kind()) {
			case LOCAL -> Mono.just(new Owned(sessionId));
			case REMOTE -> {
				if (forwarded) {
					// Already forwarded once, and we do not own it either: the instances disagree. Stop here.
					logger.debug("ForwardingRefused session={} reason=already-forwarded", sessionId);
					yield Mono.just(refuse(Decision.NOT_FOUND, JsonRpcErrors.SESSION_NOT_FOUND));
				}
				InstanceIdentity owner = Objects.requireNonNull(resolution.owner());
				this.observer.routed(Decision.FORWARDED);
				logger.debug("ForwardingRequest session={} method={} owner={}", sessionId, request.method(),
						owner.address());
				yield Mono.just(new Forward(sessionId, owner));
			}
			case UNKNOWN -> Mono.just(refuse(Decision.NOT_FOUND, JsonRpcErrors.SESSION_NOT_FOUND));
			case STALE -> Mono.just(refuse(Decision.STALE, JsonRpcErrors.SESSION_NOT_FOUND));
			case UNAVAILABLE -> Mono.just(refuse(Decision.UNAVAILABLE, JsonRpcErrors.STORE_UNAVAILABLE));
		};
	}

	private Refused refuse(Decision decision, JsonRpcErrors answer) {
		this.observer.routed(decision);
		return new Refused(answer);
	}

	/**
	 * Lets a request for a session owned here reach the local handler if it comes from the principal the session is
	 * bound to (or the session is bound to nobody); otherwise it gets 404, as if the session did not exist.
	 * @param owned the decision
	 * @param principal the request's principal, once the application's filters have authenticated it
	 * @return {@link Local} or a {@link Refused} 404
	 */
	public Mono<Route> admit(Owned owned, Mono<Principal> principal) {
		SessionId sessionId = owned.sessionId();
		Cache<String, String> bindings = this.principals;
		String bound = (bindings != null) ? bindings.getIfPresent(sessionId.value()) : null;
		Mono<Boolean> allowed = (bound != null)
				? principal.map((found) -> bound.equals(found.getName())).defaultIfEmpty(false) : Mono.just(true);
		return allowed.map((admitted) -> {
			if (!admitted) {
				logger.debug("SessionPrincipalMismatch session={}", sessionId);
				return refuse(Decision.NOT_FOUND, JsonRpcErrors.SESSION_NOT_FOUND);
			}
			this.observer.routed(Decision.LOCAL);
			return new Local(sessionId);
		});
	}

	/**
	 * Makes a session the local handler just created routable from every instance, before its id reaches the client.
	 * @param created the id the MCP transport minted
	 * @param principal the principal of the request that created it, if any
	 * @return the id the client must get (the transport's, or in session-id mode one that names this instance), or
	 * a {@link SessionNotClaimedException} when the session could not be made routable: the client must then get 503
	 * and retry, never the id
	 */
	public Mono<String> establish(String created, Mono<Principal> principal) {
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
			.flatMap((announced) -> bindToPrincipal(principal, announced.value()).thenReturn(announced.value()));
	}

	private Mono<Void> bindToPrincipal(Mono<Principal> principal, String created) {
		Cache<String, String> bindings = this.principals;
		if (bindings == null) {
			return Mono.empty();
		}
		return principal.doOnNext((found) -> bindings.put(created, found.getName())).then();
	}

	/**
	 * Ends a session's ownership everywhere: its owner's handler accepted a DELETE for it.
	 * @param sessionId the session, as the client named it
	 * @return completion, never an error (an entry that cannot be removed now expires on its own)
	 */
	public Mono<Void> ended(SessionId sessionId) {
		if (this.principals != null) {
			this.principals.invalidate(sessionId.value());
		}
		return this.resolver.release(sessionId).onErrorReturn(false).then();
	}

	/**
	 * A forward got the owner's response headers.
	 * @param forward the forward
	 * @param startNanos {@link System#nanoTime()} when it started
	 */
	public void forwardAnswered(Forward forward, long startNanos) {
		this.observer.forwarded(ForwardOutcome.SUCCESS, System.nanoTime() - startNanos);
		this.reportedUnreachable.invalidate(forward.owner().epoch());
		this.reportedFailing.invalidate(forward.owner().epoch());
	}

	// A failed TLS handshake with an owner (its certificate refused, or not naming its address), not a broken record.
	private static boolean tlsFailure(Throwable error) {
		Throwable cause = error;
		for (int depth = 0; depth < 32 && cause != null; depth++) {
			if (cause instanceof SSLHandshakeException || cause instanceof SSLPeerUnverifiedException) {
				return true;
			}
			cause = cause.getCause();
		}
		return false;
	}

	private static Throwable innermost(Throwable error) {
		Throwable innermost = error;
		// Bounded: a cycle of causes must not hold the request.
		for (int depth = 0; depth < 32 && innermost.getCause() != null; depth++) {
			innermost = innermost.getCause();
		}
		return innermost;
	}

	private static Cache<String, Boolean> reported() {
		return Caffeine.newBuilder().expireAfterWrite(Duration.ofMinutes(1)).maximumSize(1_000).build();
	}

	/**
	 * A forward failed before anything of the owner's answer was sent to the client.
	 * @param forward the forward
	 * @param failure what the adapter's client made of the error, or {@code null} for anything else
	 * @param error the error
	 * @param startNanos {@link System#nanoTime()} when it started
	 * @return what the client gets instead ({@link JsonRpcErrors#FORWARD_FAILED} when the error is none of the known
	 * failures)
	 */
	public Mono<JsonRpcErrors> forwardFailed(Forward forward, @Nullable ForwardFailure failure, Throwable error,
			long startNanos) {
		long elapsed = System.nanoTime() - startNanos;
		if (failure == ForwardFailure.UNREACHABLE) {
			this.observer.forwarded(ForwardOutcome.UNREACHABLE, elapsed);
			InstanceIdentity owner = forward.owner();
			if (this.reportedUnreachable.asMap().putIfAbsent(owner.epoch(), Boolean.TRUE) == null) {
				logger.warn("OwnerUnreachable owner={} ({}); its sessions get 404 and re-initialize", owner.address(),
						error.getMessage());
			}
			return this.resolver.releaseUnreachable(forward.sessionId(), owner)
				.onErrorReturn(false)
				.thenReturn(JsonRpcErrors.SESSION_NOT_FOUND);
		}
		if (failure == ForwardFailure.CONNECT_TIMEOUT) {
			this.observer.forwarded(ForwardOutcome.TIMEOUT, elapsed);
			return Mono.just(JsonRpcErrors.OWNER_UNAVAILABLE);
		}
		if (failure == ForwardFailure.ABORTED) {
			this.observer.forwarded(ForwardOutcome.ERROR, elapsed);
			return Mono.just(JsonRpcErrors.OWNER_UNAVAILABLE);
		}
		if (failure == ForwardFailure.RESPONSE_TIMEOUT) {
			this.observer.forwarded(ForwardOutcome.TIMEOUT, elapsed);
			return Mono.just(JsonRpcErrors.OWNER_TIMEOUT);
		}
		this.observer.forwarded(ForwardOutcome.ERROR, elapsed);
		RequestBodyRefusedException refused = RequestBodyRefusedException.in(error);
		if (refused != null) {
			return Mono.just(refused.answer());
		}
		// Only the innermost cause: the clients' wrappers name the request's URL, whose query may hold a session id.
		Throwable cause = innermost(error);
		InstanceIdentity owner = forward.owner();
		if (DisconnectedClientHelper.isClientDisconnectedException(error)) {
			// The client went away (while its body was being sent, say): nothing to report about the owner.
			logger.debug("ForwardFailed owner={}, client gone ({})", owner.address(), cause.toString());
		}
		else if (this.reportedFailing.asMap().putIfAbsent(owner.epoch(), Boolean.TRUE) == null) {
			logger.warn("ForwardFailed owner={} ({}); its clients get 502 until it answers{}", owner.address(),
					cause.toString(), tlsFailure(error) ? TLS_HINT : "");
		}
		logger.debug("ForwardFailed owner={}", owner.address(), cause);
		return Mono.just(JsonRpcErrors.FORWARD_FAILED);
	}

	/**
	 * A forward failed after the owner's answer began to reach the client: nothing can be answered any more.
	 * @param startNanos {@link System#nanoTime()} when it started
	 */
	public void forwardBroken(long startNanos) {
		this.observer.forwarded(ForwardOutcome.ERROR, System.nanoTime() - startNanos);
	}

	/**
	 * What a client gets whose request body was refused while the local handler read it, if that is what the error is.
	 * @param error the error of the local handler
	 * @return the answer, or {@code null} when the error is something else
	 */
	public @Nullable JsonRpcErrors bodyRefused(Throwable error) {
		RequestBodyRefusedException refused = RequestBodyRefusedException.in(error);
		if (refused == null) {
			return null;
		}
		if (refused.answer() == JsonRpcErrors.BODY_TOO_LARGE) {
			this.observer.routed(Decision.INVALID);
		}
		return refused.answer();
	}

	/**
	 * The raw path and query of a request, as forwards are signed and verified.
	 * @param uri the request's URI
	 * @return its path and query
	 */
	public static String pathAndQuery(URI uri) {
		String query = uri.getRawQuery();
		return (query != null) ? uri.getRawPath() + "?" + query : uri.getRawPath();
	}

	/**
	 * What the decision reads of a request, as each stack's adapter reads it.
	 * @param method the HTTP method
	 * @param headers the first value of a header by name, or {@code null}
	 * @param sessionParameter the legacy transport's {@code sessionId} query parameter, or {@code null}
	 * @param contentLength the declared body length, or -1 when none is declared
	 * @param uri the request's URI, as the client sent it (forwards are signed over its raw path and query): asked for
	 * only when a forward's signature is checked
	 * @param principal the authenticated principal, if any
	 */
	public record Request(HttpMethod method, Function<String, @Nullable String> headers,
			@Nullable String sessionParameter, long contentLength, Supplier<URI> uri, Mono<Principal> principal) {

		@Nullable String header(String name) {
			return this.headers.apply(name);
		}

	}

	/** Where a request goes. */
	public sealed interface Route permits Sessionless, Owned, Local, Forward, Refused {

	}

	/** No session: the local handler takes the request as it is. */
	public enum Sessionless implements Route {

		/** The one instance. */
		INSTANCE

	}

	/**
	 * Owned here, but not yet checked against the request's principal: {@link #admit} makes it {@link Local} or a 404.
	 * Only {@link #decide} answers this.
	 * @param sessionId the session, as the client named it
	 */
	public record Owned(SessionId sessionId) implements Route {

	}

	/**
	 * Owned here: the local handler takes the request, naming the session by the id its transport minted.
	 * @param sessionId the session, as the client named it
	 */
	public record Local(SessionId sessionId) implements Route {

		/** The id the MCP transport knows the session by. */
		public SessionId transportId() {
			return SessionOwnerResolver.transportId(this.sessionId);
		}

	}

	/**
	 * Owned by a live other instance: forwarded there.
	 * @param sessionId the session
	 * @param owner its owner
	 */
	public record Forward(SessionId sessionId, InstanceIdentity owner) implements Route {

	}

	/**
	 * Answered by the affinity layer itself.
	 * @param answer the answer
	 */
	public record Refused(JsonRpcErrors answer) implements Route {

	}

	/** How a forward failed, as each adapter's HTTP client tells it. */
	public enum ForwardFailure {

		/** Connection refused, or no route: the owner is gone, and so are its sessions (404, entry removed). */
		UNREACHABLE,

		/** The owner did not accept a connection in time: busy or going away; 503, the session is kept. */
		CONNECT_TIMEOUT,

		/** The owner sent no response headers in time: 504. */
		RESPONSE_TIMEOUT,

		/**
		 * This instance stopped waiting for the owner (it is shutting down), or the owner closed the connection without
		 * answering (a live owner dropping it, or one going away): 503, retry; the session is kept.
		 */
		ABORTED

	}

	/** A new session could not be made routable from every instance, so its id must not reach the client. */
	public static final class SessionNotClaimedException extends RuntimeException {

		SessionNotClaimedException() {
			super("Session not claimed", null, false, false);
		}

	}

}
