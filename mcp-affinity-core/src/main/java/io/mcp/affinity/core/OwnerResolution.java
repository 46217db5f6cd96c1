package io.mcp.affinity.core;

import org.jspecify.annotations.Nullable;

/**
 * What to do with a request for a session, as decided by {@link SessionOwnerResolver}.
 *
 * @param kind the decision
 * @param owner the owning instance when {@code kind} is {@link Kind#REMOTE}, otherwise {@code null}
 */
public record OwnerResolution(Kind kind, @Nullable InstanceIdentity owner) {

	static final OwnerResolution LOCAL = new OwnerResolution(Kind.LOCAL, null);

	static final OwnerResolution UNKNOWN = new OwnerResolution(Kind.UNKNOWN, null);

	static final OwnerResolution STALE = new OwnerResolution(Kind.STALE, null);

	static final OwnerResolution UNAVAILABLE = new OwnerResolution(Kind.UNAVAILABLE, null);

	static OwnerResolution remote(InstanceIdentity owner) {
		return new OwnerResolution(Kind.REMOTE, owner);
	}

	/** The decisions. */
	public enum Kind {

		/** This instance owns the session: let the local MCP handler take the request. */
		LOCAL,

		/** A live other instance owns the session: forward the request there. */
		REMOTE,

		/** No instance owns the session (never existed, expired, or ended): the client must re-initialize. */
		UNKNOWN,

		/**
		 * The entry named a dead instance or a previous run of a restarted one; it has been removed and the client
		 * must re-initialize.
		 */
		STALE,

		/** The store could not answer in time and nothing held locally answers either; the client may retry. */
		UNAVAILABLE

	}

}
