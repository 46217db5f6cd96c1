package io.mcp.affinity.web.servlet;

import jakarta.servlet.http.Cookie;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatusCode;
import org.springframework.util.MultiValueMap;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * A response another handler made, described as it is; a subclass changes only how it is written.
 */
abstract class DelegatingServletServerResponse implements ServerResponse {

	protected final ServerResponse delegate;

	DelegatingServletServerResponse(ServerResponse delegate) {
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
	public MultiValueMap<String, Cookie> cookies() {
		return this.delegate.cookies();
	}

}
