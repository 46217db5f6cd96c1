package io.mcp.affinity.core;

import org.jspecify.annotations.Nullable;

/**
 * The backing service of an {@link OwnershipStore} or {@link InstanceRegistry} did not answer in time or failed.
 * The affinity layer degrades on it rather than failing requests for sessions it can still place.
 */
public class OwnershipStoreUnavailableException extends RuntimeException {

	public OwnershipStoreUnavailableException(String message, @Nullable Throwable cause) {
		super(message, cause);
	}

}
