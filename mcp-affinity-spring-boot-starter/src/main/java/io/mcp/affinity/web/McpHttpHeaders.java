package io.mcp.affinity.web;

/** Header and parameter names of the MCP HTTP transports, and of the affinity layer itself. */
public final class McpHttpHeaders {

	/** Streamable HTTP session header (MCP 2025-03-26 to 2025-11-25). */
	public static final String SESSION_ID = "Mcp-Session-Id";

	/** Query parameter carrying the session of the legacy HTTP+SSE transport (MCP 2024-11-05). */
	public static final String LEGACY_SESSION_PARAMETER = "sessionId";

	/**
	 * Marks a request forwarded by another instance, with that instance's epoch as the value. A marked request is
	 * never forwarded again: a receiver that does not own the session answers 404, which breaks loops between
	 * instances that disagree.
	 */
	public static final String FORWARDED_BY = "X-Mcp-Affinity-Forwarded-By";

	/** Signature of a forwarded request (see {@link ForwardSignature}). */
	public static final String SIGNATURE = "X-Mcp-Affinity-Signature";

	private McpHttpHeaders() {
	}

}
