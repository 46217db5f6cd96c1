package io.mcp.affinity.web.servlet;

import java.io.IOException;
import java.io.PrintWriter;

import io.mcp.affinity.web.HandlerErrorBodies;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import org.jspecify.annotations.Nullable;
import org.springframework.http.MediaType;
import org.springframework.web.servlet.ModelAndView;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * An error answer of the local handler that may have no body, written so that, if it is written without one, it
 * carries a JSON-RPC error (see {@link HandlerErrorBodies#forEmpty}). Whether it has a body shows only as it is
 * written: the handler's own writer either writes one (or sends the container's error) or leaves the response empty.
 */
final class BodilessServletErrorAnswer extends DelegatingServletServerResponse {

	BodilessServletErrorAnswer(ServerResponse delegate) {
		super(delegate);
	}

	@Override
	public @Nullable ModelAndView writeTo(HttpServletRequest request, HttpServletResponse response, Context context)
			throws ServletException, IOException {
		Watched watched = new Watched(response);
		ModelAndView view = this.delegate.writeTo(request, watched, context);
		if (view == null && !watched.bodyStarted && !response.isCommitted() && response.getStatus() >= 400) {
			byte[] body = HandlerErrorBodies.forEmpty(response.getStatus());
			response.setContentType(MediaType.APPLICATION_JSON_VALUE);
			response.setContentLength(body.length);
			response.getOutputStream().write(body);
		}
		return view;
	}

	// The response, noting whether the handler began a body of its own.
	private static final class Watched extends HttpServletResponseWrapper {

		private boolean bodyStarted;

		Watched(HttpServletResponse response) {
			super(response);
		}

		@Override
		public ServletOutputStream getOutputStream() throws IOException {
			this.bodyStarted = true;
			return super.getOutputStream();
		}

		@Override
		public PrintWriter getWriter() throws IOException {
			this.bodyStarted = true;
			return super.getWriter();
		}

		@Override
		public void sendError(int sc, String msg) throws IOException {
			this.bodyStarted = true;
			super.sendError(sc, msg);
		}

		@Override
		public void sendError(int sc) throws IOException {
			this.bodyStarted = true;
			super.sendError(sc);
		}

		@Override
		public void sendRedirect(String location) throws IOException {
			this.bodyStarted = true;
			super.sendRedirect(location);
		}

	}

}
