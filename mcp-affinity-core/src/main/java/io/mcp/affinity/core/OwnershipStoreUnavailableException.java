package io.mcp.affinity.core;

import org.jspecify.annotations.Nullable;

/**
 * The backing service of an {@link OwnershipStore} or {@link InstanceRegistry} did not answer in time or failed.
 * The affinity layer degrades on it rather than failing requests for sessions it can still place.
 * <p>
 * A call that only ran out of time says little: the service may be slow (a cold client, a busy node, a GC pause). A
 * call that found the service {@linkplain #isUnreachable() unreachable} (connection refused or lost) is evidence of an
 * outage on its own.
 */
public class OwnershipStoreUnavailableException extends RuntimeException {

	private final boolean unreachable;

	/**
	 * Creates an exception for a call that failed without evidence that the service is down (a timeout, say).
	 * @param message what failed
	 * @param cause the cause, if any
	 */
	public OwnershipStoreUnavailableException(String message, @Nullable Throwable cause) {
		this(message, cause, false);
	}

	/**
	 * Creates an exception.
	 * @param message what failed
	 * @param cause the cause, if any
	 * @param unreachable whether the service could not be reached at all (connection refused or lost)
	 */
	public OwnershipStoreUnavailableException(String message, @Nullable Throwable cause, boolean unreachable) {
		super(message, cause);
		this.unreachable = unreachable;
	}

	/** Whether the service could not be reached at all, rather than being slow or failing one call. */
	public boolean isUnreachable() {
		return this.unreachable;
	}

}
