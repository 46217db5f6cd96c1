package io.mcp.affinity.web;

import java.nio.charset.StandardCharsets;
import java.util.function.Function;

import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ResponseCookie;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.http.server.reactive.ServerHttpResponseDecorator;
import org.springframework.util.MultiValueMap;
import org.springframework.web.reactive.function.server.ServerResponse;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The SSE stream of a legacy HTTP+SSE connection (MCP 2024-11-05), unchanged, except that the session announced in
 * its {@code endpoint} event is claimed for this instance before that event leaves: the client's first POST may land
 * on any instance, and must find the owner. If the claim fails, the event never leaves: the endpoint event is the
 * stream's first, so nothing has been sent yet, and the client gets 503 with {@code Retry-After} instead.
 */
final class LegacyEndpointClaimingResponse implements ServerResponse {

	private static final String MARKER = McpHttpHeaders.LEGACY_SESSION_PARAMETER + "=";

	private final ServerResponse delegate;

	private final Function<String, Mono<Void>> claim;

	LegacyEndpointClaimingResponse(ServerResponse delegate, Function<String, Mono<Void>> claim) {
		this.delegate = delegate;
		this.claim = claim;
	}

	@Override
	public HttpStatusCode statusCode() {
		return this.delegate.statusCode();
	}

	@Override
	public HttpHeaders headers() {
		return this.delegate.headers();
	}

	@Override
	public MultiValueMap<String, ResponseCookie> cookies() {
		return this.delegate.cookies();
	}

	@Override
	public Mono<Void> writeTo(ServerWebExchange exchange, Context context) {
		ServerWebExchange claiming = exchange.mutate().response(new Claiming(exchange.getResponse())).build();
		return this.delegate.writeTo(claiming, context)
			.onErrorResume((ex) -> ex instanceof McpSessionAffinity.SessionNotClaimedException
					&& !exchange.getResponse().isCommitted(),
					(ex) -> JsonRpcErrors.STORE_UNAVAILABLE.writeTo(exchange.getResponse()));
	}

	/** The session id in an SSE chunk that announces the message endpoint, if it is one. */
	static @Nullable String announcedSession(String chunk) {
		if (!chunk.contains("endpoint")) {
			return null;
		}
		int start = chunk.indexOf(MARKER);
		if (start < 0) {
			return null;
		}
		start += MARKER.length();
		int end = start;
		while (end < chunk.length() && "&\r\n \"#".indexOf(chunk.charAt(end)) < 0) {
			end++;
		}
		return (end > start) ? chunk.substring(start, end) : null;
	}

	private final class Claiming extends ServerHttpResponseDecorator {

		// The endpoint event is the stream's first: once the first chunk has been looked at, the rest passes as is.
		private volatile boolean inspected;

		Claiming(ServerHttpResponse delegate) {
			super(delegate);
		}

		@Override
		public Mono<Void> writeWith(Publisher<? extends DataBuffer> body) {
			return super.writeWith(Flux.from(body).concatMap(this::claimIfAnnounced));
		}

		@Override
		public Mono<Void> writeAndFlushWith(Publisher<? extends Publisher<? extends DataBuffer>> body) {
			// The response is committed as soon as its first chunk is handed on, so that chunk (one event, the
			// endpoint) is looked at, and the session claimed, before it is: a failed claim can still become a 503.
			return super.writeAndFlushWith(Flux.from(body).concatMap((chunk) -> this.inspected
					? Mono.just(Flux.from(chunk))
					: Flux.from(chunk).concatMap(this::claimIfAnnounced).collectList().map(Flux::fromIterable)));
		}

		private Mono<DataBuffer> claimIfAnnounced(DataBuffer buffer) {
			if (this.inspected) {
				return Mono.just(buffer);
			}
			String session = announcedSession(buffer.toString(buffer.readPosition(), buffer.readableByteCount(),
					StandardCharsets.UTF_8));
			this.inspected = true;
			if (session == null) {
				return Mono.just(buffer);
			}
			return LegacyEndpointClaimingResponse.this.claim.apply(session).thenReturn(buffer);
		}

	}

}
