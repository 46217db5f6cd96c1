package io.mcp.affinity.web;

import org.springframework.web.reactive.function.server.ServerResponse;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * The response that created a session (the answer to {@code initialize}), unchanged except for the
 * {@code Mcp-Session-Id} it announces: the id the client must use instead of the transport's own.
 */
final class SessionIdAnnouncingResponse extends DelegatingServerResponse {

	private final String announced;

	SessionIdAnnouncingResponse(ServerResponse delegate, String announced) {
		super(delegate);
		this.announced = announced;
	}

	@Override
	public Mono<Void> writeTo(ServerWebExchange exchange, Context context) {
		// The response copies its (read-only) headers into the exchange's as it writes; the id is replaced after that,
		// just before they leave.
		exchange.getResponse().beforeCommit(() -> {
			exchange.getResponse().getHeaders().set(McpHttpHeaders.SESSION_ID, this.announced);
			return Mono.empty();
		});
		return this.delegate.writeTo(exchange, context);
	}

}
