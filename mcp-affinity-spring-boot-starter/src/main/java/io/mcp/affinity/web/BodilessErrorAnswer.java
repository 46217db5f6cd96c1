package io.mcp.affinity.web;

import reactor.core.publisher.Mono;

import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.http.server.reactive.ServerHttpResponseDecorator;
import org.springframework.web.reactive.function.server.ServerResponse;
import org.springframework.web.server.ServerWebExchange;

/**
 * An error answer of the local handler that may have no body, written so that, if it completes without one, it
 * carries a JSON-RPC error (see {@link HandlerErrorBodies#forEmpty}). Whether it has a body shows only as it is
 * written: the handler's own writer either writes one or completes the response empty.
 */
final class BodilessErrorAnswer extends DelegatingServerResponse {

	BodilessErrorAnswer(ServerResponse delegate) {
		super(delegate);
	}

	@Override
	public Mono<Void> writeTo(ServerWebExchange exchange, Context context) {
		ServerHttpResponse completing = new ServerHttpResponseDecorator(exchange.getResponse()) {

			@Override
			public Mono<Void> setComplete() {
				HttpStatusCode status = getStatusCode();
				if (isCommitted() || status == null || !status.isError()) {
					return super.setComplete();
				}
				byte[] body = HandlerErrorBodies.forEmpty(status.value());
				getHeaders().setContentType(MediaType.APPLICATION_JSON);
				getHeaders().setContentLength(body.length);
				return writeWith(Mono.just(bufferFactory().wrap(body)));
			}

		};
		return this.delegate.writeTo(exchange.mutate().response(completing).build(), context);
	}

}
