package io.mcp.affinity.web.servlet;

import java.io.IOException;
import java.util.function.BiFunction;

import jakarta.servlet.ServletException;
import jakarta.servlet.http.Cookie;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.jspecify.annotations.Nullable;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatusCode;
import org.springframework.util.MultiValueMap;
import org.springframework.web.servlet.ModelAndView;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * A response another handler made, described as it is, but written through a servlet response of the affinity
 * layer's: Web MVC responses have read-only headers and no hook before commit, so what must change in one changes as
 * it is written.
 */
class ResponseWritingThrough implements ServerResponse {

	private final ServerResponse delegate;

	// The servlet response the delegate writes to, given the request and the response it is written to.
	private final BiFunction<HttpServletRequest, HttpServletResponse, HttpServletResponse> through;

	ResponseWritingThrough(ServerResponse delegate,
			BiFunction<HttpServletRequest, HttpServletResponse, HttpServletResponse> through) {
		this.delegate = delegate;
		this.through = through;
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

	@Override
	public @Nullable ModelAndView writeTo(HttpServletRequest request, HttpServletResponse response, Context context)
			throws ServletException, IOException {
		return this.delegate.writeTo(request, this.through.apply(request, response), context);
	}

}
