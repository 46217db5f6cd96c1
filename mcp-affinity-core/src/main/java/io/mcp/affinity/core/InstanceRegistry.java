package io.mcp.affinity.core;

import org.jspecify.annotations.Nullable;
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
	 * Finds a live instance in memory only, for the request path: answers when the registry holds an answer to
	 * {@link #findLive} it would give without I/O or waiting. Only positive answers are given here: an instance is
	 * declared dead by {@link #findLive} alone, under its rules (such as a confirmation delay).
	 * <p>
	 * The default knows nothing in memory.
	 * @param epoch the instance's epoch
	 * @return the instance as {@link #findLive} would emit it, or {@code null} when only {@link #findLive} can tell
	 */
	default @Nullable InstanceIdentity findLiveInMemory(String epoch) {
		return null;
	}

	/**
	 * Refreshes what {@link #findLiveInMemory} knows from a listing of the live instances: called after each
	 * heartbeat, so owners named by session ids are found in memory, and a listing that no longer names one is noticed
	 * within a heartbeat interval.
	 * <p>
	 * The default does nothing.
	 * @return completion
	 */
	default Mono<Void> refreshLiveInstances() {
		return Mono.empty();
	}

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
