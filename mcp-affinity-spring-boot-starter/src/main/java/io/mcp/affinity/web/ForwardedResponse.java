package io.mcp.affinity.web;

import java.util.function.Function;

import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ResponseCookie;
import org.springframework.util.LinkedMultiValueMap;
import org.springframework.util.MultiValueMap;
import org.springframework.web.reactive.function.server.ServerResponse;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * A {@link ServerResponse} whose status, headers and body come from another instance: writing it relays the exchange
 * there and streams the answer back. Status and headers are only known once the owner answers, so the accessors
 * describe nothing yet.
 */
final class ForwardedResponse implements ServerResponse {

	private final Function<ServerWebExchange, Mono<Void>> relay;

	ForwardedResponse(Function<ServerWebExchange, Mono<Void>> relay) {
		this.relay = relay;
	}

	@Override
	public HttpStatusCode statusCode() {
		return HttpStatus.OK;
	}

	@Override
	public HttpHeaders headers() {
		return HttpHeaders.EMPTY;
	}

	@Override
	public MultiValueMap<String, ResponseCookie> cookies() {
		return new LinkedMultiValueMap<>();
	}

	@Override
	public Mono<Void> writeTo(ServerWebExchange exchange, Context context) {
		return this.relay.apply(exchange);
	}

}
