package io.mcp.affinity.web.servlet;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.function.UnaryOperator;

import io.mcp.affinity.web.JsonRpcErrors;
import io.mcp.affinity.web.LegacyEndpointEvent;
import io.mcp.affinity.web.SessionRouting.SessionNotClaimedException;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import org.springframework.http.MediaType;

/**
 * Writes the SSE stream of a legacy HTTP+SSE connection (MCP 2024-11-05) unchanged, except that the session
 * announced in its {@code endpoint} event is claimed for this instance before that event leaves: the client's first
 * POST may land on any instance, and must find the owner. The stream's first event is held until it is flushed, looked
 * at, and then let through (announcing the id the client must use); every later byte passes as it comes. If the claim
 * fails, the event never leaves and the client gets 503 with {@code Retry-After} instead, which ends the exchange.
 */
final class LegacyEndpointClaimingServletResponse extends HttpServletResponseWrapper {

	private final HttpServletRequest request;

	// Given the transport's id, claims the session and returns the id the client must use (blocking).
	private final UnaryOperator<String> claim;

	private final ByteArrayOutputStream first = new ByteArrayOutputStream(256);

	private volatile boolean inspected;

	private volatile boolean refused;

	private final ServletOutputStream stream = new ServletOutputStream() {

		@Override
		public void write(int b) throws IOException {
			write(new byte[] { (byte) b }, 0, 1);
		}

		@Override
		public void write(byte[] bytes, int offset, int length) throws IOException {
			synchronized (LegacyEndpointClaimingServletResponse.this) {
				if (LegacyEndpointClaimingServletResponse.this.refused) {
					throw new IOException("Session not claimed: stream closed");
				}
				if (LegacyEndpointClaimingServletResponse.this.inspected) {
					LegacyEndpointClaimingServletResponse.super.getOutputStream().write(bytes, offset, length);
				}
				else {
					LegacyEndpointClaimingServletResponse.this.first.write(bytes, offset, length);
				}
			}
		}

		@Override
		public void flush() throws IOException {
			releaseFirst();
			LegacyEndpointClaimingServletResponse.super.getOutputStream().flush();
		}

		@Override
		public boolean isReady() {
			return true;
		}

		@Override
		public void setWriteListener(WriteListener writeListener) {
			throw new IllegalStateException("The legacy SSE stream is written in blocking mode");
		}

	};

	LegacyEndpointClaimingServletResponse(HttpServletRequest request, HttpServletResponse response,
			UnaryOperator<String> claim) {
		super(response);
		this.request = request;
		this.claim = claim;
	}

	@Override
	public ServletOutputStream getOutputStream() {
		String contentType = getContentType();
		if (contentType == null || !MediaType.TEXT_EVENT_STREAM.isCompatibleWith(MediaType.parseMediaType(contentType))) {
			// Not a stream after all: written as it is.
			this.inspected = true;
		}
		return this.stream;
	}

	@Override
	public void flushBuffer() throws IOException {
		releaseFirst();
		super.flushBuffer();
	}

	// The first flush ends the first event: claim its session, then let it through.
	private synchronized void releaseFirst() throws IOException {
		if (this.inspected || this.refused) {
			return;
		}
		this.inspected = true;
		String chunk = this.first.toString(StandardCharsets.UTF_8);
		String created = LegacyEndpointEvent.announcedSession(chunk);
		byte[] bytes = this.first.toByteArray();
		if (created != null) {
			try {
				String announced = this.claim.apply(created);
				if (!announced.equals(created)) {
					bytes = LegacyEndpointEvent.announcing(chunk, announced).getBytes(StandardCharsets.UTF_8);
				}
			}
			catch (SessionNotClaimedException ex) {
				this.refused = true;
				HttpServletResponse response = (HttpServletResponse) getResponse();
				if (!response.isCommitted()) {
					response.reset();
					ServletSessionAffinity.write(JsonRpcErrors.STORE_UNAVAILABLE, response);
				}
				// The 503 is the whole answer. A stream's writer (Web MVC's SSE builder) takes the failed write below
				// for a client gone and waits for the container to report it, which it never will: left open, the
				// exchange would hold its connection until the async timeout, or for good without one.
				if (this.request.isAsyncStarted()) {
					this.request.getAsyncContext().complete();
				}
				throw new IOException("Session not claimed", ex);
			}
		}
		super.getOutputStream().write(bytes);
	}

}
