package io.mcp.affinity.web;

import java.nio.charset.StandardCharsets;
import java.util.function.Function;

import org.reactivestreams.Publisher;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.http.server.reactive.ServerHttpResponseDecorator;
import org.springframework.web.reactive.function.server.ServerResponse;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The SSE stream of a legacy HTTP+SSE connection (MCP 2024-11-05), unchanged, except that the session announced in
 * its {@code endpoint} event is claimed for this instance before that event leaves: the client's first POST may land
 * on any instance, and must find the owner. If the claim fails, the event never leaves: the endpoint event is the
 * stream's first, so nothing has been sent yet, and the client gets 503 with {@code Retry-After} instead. When the
 * client must know the session by another id than the transport's (session-id ownership), the event announces that id.
 */
final class LegacyEndpointClaimingResponse extends DelegatingServerResponse {

	// Given the transport's id, claims the session and emits the id the client must use.
	private final Function<String, Mono<String>> claim;

	LegacyEndpointClaimingResponse(ServerResponse delegate, Function<String, Mono<String>> claim) {
		super(delegate);
		this.claim = claim;
	}

	@Override
	public Mono<Void> writeTo(ServerWebExchange exchange, Context context) {
		ServerWebExchange claiming = exchange.mutate().response(new Claiming(exchange.getResponse())).build();
		return this.delegate.writeTo(claiming, context)
			.onErrorResume((ex) -> ex instanceof SessionRouting.SessionNotClaimedException
					&& !exchange.getResponse().isCommitted(),
					(ex) -> McpSessionAffinity.writeTo(JsonRpcErrors.STORE_UNAVAILABLE, exchange.getResponse()));
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
			String chunk = buffer.toString(buffer.readPosition(), buffer.readableByteCount(), StandardCharsets.UTF_8);
			this.inspected = true;
			String created = LegacyEndpointEvent.announcedSession(chunk);
			if (created == null) {
				return Mono.just(buffer);
			}
			return LegacyEndpointClaimingResponse.this.claim.apply(created).map((announced) -> {
				if (announced.equals(created)) {
					return buffer;
				}
				DataBufferUtils.release(buffer);
				String rewritten = LegacyEndpointEvent.announcing(chunk, announced);
				return bufferFactory().wrap(rewritten.getBytes(StandardCharsets.UTF_8));
			});
		}

	}

}
