package io.mcp.affinity.autoconfigure;

import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.core.redis.RedisSessionInvalidations;
import org.jspecify.annotations.Nullable;
import org.springframework.context.SmartLifecycle;
import reactor.core.Disposable;

/**
 * Listens, while the application runs, for sessions whose ownership ended on another instance, and drops them from
 * this instance's L1.
 */
final class L1InvalidationListener implements SmartLifecycle {

	private final RedisSessionInvalidations invalidations;

	private final TwoTierOwnershipStore store;

	private @Nullable Disposable subscription;

	L1InvalidationListener(RedisSessionInvalidations invalidations, TwoTierOwnershipStore store) {
		this.invalidations = invalidations;
		this.store = store;
	}

	@Override
	public synchronized void start() {
		if (this.subscription == null) {
			this.subscription = this.invalidations.subscribe(this.store::evictFromL1);
		}
	}

	@Override
	public synchronized void stop() {
		if (this.subscription != null) {
			this.subscription.dispose();
			this.subscription = null;
		}
		this.invalidations.close();
	}

	@Override
	public synchronized boolean isRunning() {
		return this.subscription != null;
	}

	// Stops after the heartbeat lifecycle, which publishes invalidations for the sessions it releases on shutdown.
	@Override
	public int getPhase() {
		return InstanceHeartbeatLifecycle.PHASE - 1;
	}

}
