package io.mcp.affinity.web.servlet;

import java.io.IOException;
import java.util.function.BiFunction;

import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.jspecify.annotations.Nullable;
import org.springframework.web.servlet.ModelAndView;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * A response another handler made, described as it is, but written through a servlet response of the affinity
 * layer's: Web MVC responses have read-only headers and no hook before commit, so what must change in one changes as
 * it is written.
 */
class ResponseWritingThrough extends DelegatingServletServerResponse {

	// The servlet response the delegate writes to, given the request and the response it is written to.
	private final BiFunction<HttpServletRequest, HttpServletResponse, HttpServletResponse> through;

	ResponseWritingThrough(ServerResponse delegate,
			BiFunction<HttpServletRequest, HttpServletResponse, HttpServletResponse> through) {
		super(delegate);
		this.through = through;
	}

	@Override
	public @Nullable ModelAndView writeTo(HttpServletRequest request, HttpServletResponse response, Context context)
			throws ServletException, IOException {
		return this.delegate.writeTo(request, this.through.apply(request, response), context);
	}

}
