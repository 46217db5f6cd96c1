package io.mcp.affinity.core;

import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The live instances, by epoch. An instance stays live while it renews its {@link #heartbeat heartbeat}; an owner
 * epoch the registry does not list is dead, and so are the sessions it held. The registry is also the only source
 * of forwarding addresses: an address is never taken from an ownership entry.
 */
public interface InstanceRegistry {

	/**
	 * Registers or renews this instance. The first registration of an epoch also removes earlier epochs registered at
	 * the same address: that address has restarted, and what those epochs held is gone.
	 * @param self this instance
	 * @return whether the registry had lost this instance before the call (first registration, expiry, or a
	 * registry that lost its data): what it owns may need publishing again
	 */
	Mono<Boolean> heartbeat(InstanceIdentity self);

	/**
	 * Finds a live instance.
	 * @param epoch the instance's epoch
	 * @return the instance with its registered address, or empty when no instance with that epoch is live
	 */
	Mono<InstanceIdentity> findLive(String epoch);

	/**
	 * Lists the live instances.
	 * @return the live instances, in no particular order
	 */
	Flux<InstanceIdentity> liveInstances();

	/**
	 * Marks this instance as draining: it is shutting down, finishing what is in flight, and creates no new sessions.
	 * Informational (operators, the {@code mcpaffinity} endpoint); its sessions stay routable until it deregisters.
	 * @param self this instance
	 * @return completion
	 */
	default Mono<Void> markDraining(InstanceIdentity self) {
		return Mono.empty();
	}

	/**
	 * The epochs of the instances that are draining.
	 * @return the epochs
	 */
	default Flux<String> drainingEpochs() {
		return Flux.empty();
	}

	/**
	 * Removes this instance, so its epoch is dead for everyone at once.
	 * @param self this instance
	 * @return completion
	 */
	Mono<Void> deregister(InstanceIdentity self);

}
