package io.mcp.affinity.web;

import org.jspecify.annotations.Nullable;

/**
 * The {@code endpoint} event of a legacy HTTP+SSE stream (MCP 2024-11-05), the stream's first: it tells the client
 * where to POST, with the session id as the {@code sessionId} query parameter. It is the only place that id is
 * announced, so each stack's adapter reads it there (to claim the session) and may rewrite it (to announce another id).
 */
public final class LegacyEndpointEvent {

	private static final String MARKER = McpHttpHeaders.LEGACY_SESSION_PARAMETER + "=";

	private LegacyEndpointEvent() {
	}

	/**
	 * The session id announced in an SSE chunk.
	 * @param chunk the start of a stream
	 * @return the id, or {@code null} when the chunk is not an endpoint event
	 */
	public static @Nullable String announcedSession(String chunk) {
		int start = start(chunk);
		return (start >= 0) ? chunk.substring(start, end(chunk, start)) : null;
	}

	/**
	 * The same endpoint event announcing another id, as the transport wrote its own (a routed id adds only {@code ~}
	 * and base-36 digits, which need no encoding).
	 * @param chunk an endpoint event
	 * @param sessionId the id to announce
	 * @return the rewritten event
	 */
	public static String announcing(String chunk, String sessionId) {
		int start = start(chunk);
		if (start < 0) {
			throw new IllegalArgumentException("Not an endpoint event");
		}
		return chunk.substring(0, start) + sessionId + chunk.substring(end(chunk, start));
	}

	private static int start(String chunk) {
		if (!chunk.contains("endpoint")) {
			return -1;
		}
		int start = chunk.indexOf(MARKER);
		if (start < 0) {
			return -1;
		}
		start += MARKER.length();
		return (end(chunk, start) > start) ? start : -1;
	}

	private static int end(String chunk, int start) {
		int end = start;
		while (end < chunk.length() && "&\r\n \"#".indexOf(chunk.charAt(end)) < 0) {
			end++;
		}
		return end;
	}

}
