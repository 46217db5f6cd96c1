package io.mcp.affinity.core.memory;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.InstanceRegistry;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The registry of a deployment with one instance: this one is the only live instance, so every other epoch is dead.
 */
public final class SingleInstanceRegistry implements InstanceRegistry {

	private final InstanceIdentity self;

	private final AtomicBoolean registered = new AtomicBoolean();

	/**
	 * Creates the registry.
	 * @param self this instance
	 */
	public SingleInstanceRegistry(InstanceIdentity self) {
		this.self = Objects.requireNonNull(self, "self must not be null");
	}

	@Override
	public Mono<Boolean> heartbeat(InstanceIdentity self) {
		return Mono.fromSupplier(() -> !this.registered.getAndSet(true));
	}

	@Override
	public Mono<InstanceIdentity> findLive(String epoch) {
		return this.self.epoch().equals(epoch) ? Mono.just(this.self) : Mono.empty();
	}

	@Override
	public @Nullable InstanceIdentity findLiveInMemory(String epoch) {
		return this.self.epoch().equals(epoch) ? this.self : null;
	}

	@Override
	public Flux<InstanceIdentity> liveInstances() {
		return Flux.just(this.self);
	}

	@Override
	public Mono<Void> deregister(InstanceIdentity self) {
		return Mono.fromRunnable(() -> this.registered.set(false));
	}

}
