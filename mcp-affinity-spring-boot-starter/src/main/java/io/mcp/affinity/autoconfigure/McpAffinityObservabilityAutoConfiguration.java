package io.mcp.affinity.autoconfigure;

import io.mcp.affinity.actuate.McpAffinityEndpoint;
import io.mcp.affinity.actuate.McpAffinityHealthIndicator;
import io.mcp.affinity.actuate.MicrometerRoutingObserver;
import io.mcp.affinity.actuate.OwnershipStoreMetrics;
import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.InstanceRegistry;
import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionOwnerResolver;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.web.RoutingObserver;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Auto-configuration of mcp-affinity's metrics (with Micrometer), {@code mcpaffinity} endpoint and health contributor
 * (with Actuator). Each part appears only when its library is present.
 */
@AutoConfiguration(after = McpAffinityAutoConfiguration.class,
		afterName = "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration")
@ConditionalOnBean(InstanceHeartbeatLifecycle.class)
public final class McpAffinityObservabilityAutoConfiguration {

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnClass(MeterRegistry.class)
	@ConditionalOnBean(MeterRegistry.class)
	static class MetricsConfiguration {

		@Bean
		@ConditionalOnMissingBean(RoutingObserver.class)
		MicrometerRoutingObserver micrometerRoutingObserver(MeterRegistry meterRegistry) {
			return new MicrometerRoutingObserver(meterRegistry);
		}

		@Bean
		@ConditionalOnBean(TwoTierOwnershipStore.class)
		OwnershipStoreMetrics ownershipStoreMetrics(TwoTierOwnershipStore ownershipStore,
				InstanceHeartbeatLifecycle instanceHeartbeatLifecycle, SessionOwnerResolver sessionOwnerResolver) {
			return new OwnershipStoreMetrics(ownershipStore, instanceHeartbeatLifecycle::isRegistryReachable,
					sessionOwnerResolver::routedSessionCount);
		}

	}

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnClass(Endpoint.class)
	@ConditionalOnAvailableEndpoint(McpAffinityEndpoint.class)
	static class EndpointConfiguration {

		@Bean
		@ConditionalOnMissingBean
		McpAffinityEndpoint mcpAffinityEndpoint(SessionOwnerResolver sessionOwnerResolver,
				OwnershipStore ownershipStore, InstanceRegistry instanceRegistry,
				InstanceHeartbeatLifecycle instanceHeartbeatLifecycle) {
			return new McpAffinityEndpoint(sessionOwnerResolver, ownershipStore, instanceRegistry,
					instanceHeartbeatLifecycle::isRegistryReachable);
		}

	}

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnClass(ReactiveHealthIndicator.class)
	@ConditionalOnEnabledHealthIndicator("mcpAffinity")
	static class HealthConfiguration {

		@Bean
		@ConditionalOnMissingBean(name = "mcpAffinityHealthIndicator")
		McpAffinityHealthIndicator mcpAffinityHealthIndicator(InstanceIdentity mcpAffinityInstanceIdentity,
				OwnershipStore ownershipStore, InstanceHeartbeatLifecycle instanceHeartbeatLifecycle) {
			return new McpAffinityHealthIndicator(mcpAffinityInstanceIdentity, ownershipStore,
					instanceHeartbeatLifecycle::isRegistryReachable);
		}

	}

}
