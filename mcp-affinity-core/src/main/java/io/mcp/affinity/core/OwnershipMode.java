package io.mcp.affinity.core;

/**
 * How this instance makes the sessions it creates routable by the others. Whatever the mode, every instance routes
 * both kinds of id it may receive, so a cluster can switch modes one instance at a time.
 */
public enum OwnershipMode {

	/**
	 * The client gets the id the MCP transport minted, and ownership is recorded in the {@link OwnershipStore} (in
	 * Redis when instances share sessions): the store is asked who owns a session the first time an instance sees it.
	 */
	STORE,

	/**
	 * The client gets a {@link RoutedSessionId}: the transport's id with a token naming this run of this instance, so
	 * any instance finds the owner in its in-memory view of the registry. Nothing is written per session, and no
	 * store is read on the request path.
	 */
	SESSION_ID

}
