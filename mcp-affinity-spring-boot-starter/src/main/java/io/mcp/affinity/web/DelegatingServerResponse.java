package io.mcp.affinity.web;

import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ResponseCookie;
import org.springframework.util.MultiValueMap;
import org.springframework.web.reactive.function.server.ServerResponse;

/**
 * A response the local handler made, described as it is; a subclass changes only how it is written.
 */
abstract class DelegatingServerResponse implements ServerResponse {

	protected final ServerResponse delegate;

	DelegatingServerResponse(ServerResponse delegate) {
		this.delegate = delegate;
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

}
