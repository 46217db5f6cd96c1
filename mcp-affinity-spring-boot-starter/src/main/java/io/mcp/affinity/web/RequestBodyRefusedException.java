package io.mcp.affinity.web;

import org.jspecify.annotations.Nullable;

/**
 * A request body the affinity layer stopped reading: it went past the size limit, or its client stopped sending it.
 * Raised where the body is read (by the local handler or on the way to the owner), on either stack, and answered
 * with {@link #answer()} instead of the 500 a handler would make of it.
 */
public final class RequestBodyRefusedException extends RuntimeException {

	private final JsonRpcErrors answer;

	private RequestBodyRefusedException(JsonRpcErrors answer) {
		super("Request body refused: " + answer.name(), null, false, false);
		this.answer = answer;
	}

	/** The body went past the limit. */
	public static RequestBodyRefusedException tooLarge() {
		return new RequestBodyRefusedException(JsonRpcErrors.BODY_TOO_LARGE);
	}

	/** No part of the body arrived for longer than the body timeout. */
	public static RequestBodyRefusedException timedOut() {
		return new RequestBodyRefusedException(JsonRpcErrors.BODY_TIMEOUT);
	}

	/** What the client gets. */
	public JsonRpcErrors answer() {
		return this.answer;
	}

	/**
	 * The refusal behind an error, if it is one.
	 * @param error an error from reading, handling or forwarding a request
	 * @return the refusal among its causes, or {@code null}
	 */
	public static @Nullable RequestBodyRefusedException in(Throwable error) {
		for (Throwable t = error; t != null; t = t.getCause()) {
			if (t instanceof RequestBodyRefusedException refused) {
				return refused;
			}
		}
		return null;
	}

}
