package io.mcp.affinity.actuate;

import java.util.function.BooleanSupplier;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import org.springframework.boot.health.contributor.AbstractReactiveHealthIndicator;
import org.springframework.boot.health.contributor.Health;
import reactor.core.publisher.Mono;

/**
 * Health of session affinity. Always {@code UP} while the instance runs: with Redis unreachable it still serves the
 * sessions it owns and starts new ones, so taking it out of a load balancer would only make things worse. The
 * details say {@code l2: degraded} then, for alerts.
 */
public class McpAffinityHealthIndicator extends AbstractReactiveHealthIndicator {

	private final InstanceIdentity self;

	private final OwnershipStore store;

	private final BooleanSupplier registryReachable;

	public McpAffinityHealthIndicator(InstanceIdentity self, OwnershipStore store, BooleanSupplier registryReachable) {
		super("MCP affinity health check failed");
		this.self = self;
		this.store = store;
		this.registryReachable = registryReachable;
	}

	@Override
	protected Mono<Health> doHealthCheck(Health.Builder builder) {
		builder.up().withDetail("instance", this.self.address().toString());
		if (this.store instanceof TwoTierOwnershipStore twoTier) {
			boolean degraded = twoTier.isDegraded() || !this.registryReachable.getAsBoolean();
			builder.withDetail("store", "redis")
				.withDetail("l2", degraded ? "degraded" : "up")
				.withDetail("ownedSessions", twoTier.localSessionCount());
		}
		else {
			builder.withDetail("store", "memory");
		}
		return Mono.just(builder.build());
	}

}
