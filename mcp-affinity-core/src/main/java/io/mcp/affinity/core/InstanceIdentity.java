package io.mcp.affinity.core;

import java.net.URI;
import java.security.SecureRandom;
import java.util.Locale;
import java.util.Objects;

/**
 * One running instance of the MCP server: the address other instances reach it at, and an epoch minted at
 * start-up. The epoch is what ownership entries record, so an instance that restarts at the same address is a new
 * owner, and the sessions its previous run held (and lost with its memory) resolve as stale.
 *
 * @param address absolute http or https URI with host and port, as other instances route to it
 * @param epoch random token identifying this run of the instance; minted as a decimal number (see {@link #create})
 */
public record InstanceIdentity(URI address, String epoch) {

	private static final SecureRandom RANDOM = new SecureRandom();

	public InstanceIdentity {
		Objects.requireNonNull(epoch, "epoch must not be null");
		address = checkAddress(address);
	}

	/**
	 * Creates the identity of this run of an instance, with a fresh random epoch.
	 * @param address absolute http or https URI with host and port
	 * @return the identity
	 * @throws IllegalArgumentException if the address is not an absolute http(s) URI with host and port
	 */
	public static InstanceIdentity create(URI address) {
		// 63 random bits written in decimal: Redis stores a value that reads as an integer as the integer itself, 16
		// bytes less per session entry than a 12-character string.
		return new InstanceIdentity(address, Long.toString(RANDOM.nextLong() & Long.MAX_VALUE));
	}

	/**
	 * Checks that an address can be routed to by other instances, and strips any path, query or fragment.
	 * @param address the candidate
	 * @return the address as scheme, host and port
	 * @throws IllegalArgumentException naming what is wrong
	 */
	public static URI checkAddress(URI address) {
		Objects.requireNonNull(address, "address must not be null");
		String scheme = address.getScheme();
		if (!"http".equalsIgnoreCase(scheme) && !"https".equalsIgnoreCase(scheme)) {
			throw new IllegalArgumentException("'" + address + "' is not an absolute http or https URI");
		}
		if (address.getHost() == null) {
			throw new IllegalArgumentException("'" + address + "' has no host");
		}
		if (address.getPort() < 1) {
			throw new IllegalArgumentException("'" + address + "' has no port");
		}
		if (address.getRawUserInfo() != null) {
			throw new IllegalArgumentException("'" + address + "' carries user information; give scheme, host and port only");
		}
		return URI.create(scheme.toLowerCase(Locale.ROOT) + "://" + address.getHost() + ":" + address.getPort());
	}

}
