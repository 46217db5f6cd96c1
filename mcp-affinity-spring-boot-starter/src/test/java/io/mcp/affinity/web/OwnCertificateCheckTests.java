package io.mcp.affinity.web;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.mcp.affinity.core.test.OwnerCertificate;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Configuration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An instance that registers an https address checks at start-up, on both stacks, that its own certificate passes
 * the TLS the instances forward with: a certificate the others could not accept fails start-up naming the property,
 * instead of every forward to its sessions failing once it takes traffic. Real servers on loopback serve https with a
 * certificate made by keytool at test time.
 */
@ExtendWith(OutputCaptureExtension.class)
class OwnCertificateCheckTests {

	@ParameterizedTest
	@EnumSource(names = { "REACTIVE", "SERVLET" })
	void anInstanceWhoseCertificateTheForwardingBundleTrustsStartsUp(WebApplicationType stack,
			@TempDir Path certificates, CapturedOutput output) {
		OwnerCertificate own = OwnerCertificate.create(certificates);
		int port = freePort();
		try (ConfigurableApplicationContext instance = start(stack, port, "https://127.0.0.1:" + port,
				serving(own, trusting(own)))) {
			assertThat(output).contains("OwnCertificateChecked address=https://127.0.0.1:" + port);
		}
	}

	@ParameterizedTest
	@EnumSource(names = { "REACTIVE", "SERVLET" })
	void aHostNameIsVerifiedOnLoopbackAgainstTheCertificate(WebApplicationType stack, @TempDir Path certificates,
			CapturedOutput output) {
		OwnerCertificate own = OwnerCertificate.create(certificates, "dns:localhost");
		int port = freePort();
		try (ConfigurableApplicationContext instance = start(stack, port, "https://localhost:" + port,
				serving(own, trusting(own)))) {
			assertThat(output).contains("OwnCertificateChecked address=https://localhost:" + port);
		}
	}

	@ParameterizedTest
	@EnumSource(names = { "REACTIVE", "SERVLET" })
	void aCertificateTheForwardingBundleDoesNotTrustFailsStartUpNamingTheBundle(WebApplicationType stack,
			@TempDir Path certificates) throws IOException {
		OwnerCertificate own = OwnerCertificate.create(Files.createDirectory(certificates.resolve("own")));
		OwnerCertificate another = OwnerCertificate.create(Files.createDirectory(certificates.resolve("another")));
		int port = freePort();

		assertThatThrownBy(() -> start(stack, port, "https://127.0.0.1:" + port, serving(own, trusting(another))))
			.hasRootCauseInstanceOf(InvalidConfigurationPropertyValueException.class)
			.rootCause()
			.hasMessageContaining("mcp.affinity.forwarding.ssl-bundle")
			.hasMessageContaining("https://127.0.0.1:" + port)
			.hasMessageContaining("502");
	}

	@ParameterizedTest
	@EnumSource(names = { "REACTIVE", "SERVLET" })
	void aCertificateThatNamesAnotherHostThanTheRegisteredOneFailsStartUp(WebApplicationType stack,
			@TempDir Path certificates) {
		OwnerCertificate own = OwnerCertificate.create(certificates, "dns:owner.example");
		int port = freePort();

		assertThatThrownBy(() -> start(stack, port, "https://127.0.0.1:" + port, serving(own, trusting(own))))
			.hasRootCauseInstanceOf(InvalidConfigurationPropertyValueException.class)
			.rootCause()
			.hasMessageContaining("mcp.affinity.forwarding.ssl-bundle")
			.hasMessageContaining("names the host");
	}

	@ParameterizedTest
	@EnumSource(names = { "REACTIVE", "SERVLET" })
	void withoutABundleACertificateTheJvmDoesNotTrustFailsStartUpNamingTheFix(WebApplicationType stack,
			@TempDir Path certificates) {
		OwnerCertificate own = OwnerCertificate.create(certificates);
		int port = freePort();

		assertThatThrownBy(() -> start(stack, port, "https://127.0.0.1:" + port, serving(own)))
			.hasRootCauseInstanceOf(InvalidConfigurationPropertyValueException.class)
			.rootCause()
			.hasMessageContaining("mcp.affinity.local-server-address")
			.hasMessageContaining("mcp.affinity.forwarding.ssl-bundle");
	}

	// Instances in mutual TLS: a bundle without a key store presents no client certificate, which the server refuses
	// (with TLS 1.3, after the client's side of the handshake); with the instance's own key store it is accepted.
	@ParameterizedTest
	@EnumSource(names = { "REACTIVE", "SERVLET" })
	void anInstanceThatRequiresClientCertificatesIsCheckedWithTheBundlesOwn(WebApplicationType stack,
			@TempDir Path certificates, CapturedOutput output) {
		OwnerCertificate own = OwnerCertificate.create(certificates);
		List<String> mutual = new ArrayList<>(serving(own, trusting(own)));
		mutual.addAll(List.of("server.ssl.client-auth=need",
				"spring.ssl.bundle.jks.own.truststore.location=file:" + own.trustStore(),
				"spring.ssl.bundle.jks.own.truststore.password=" + OwnerCertificate.PASSWORD,
				"spring.ssl.bundle.jks.own.truststore.type=PKCS12"));
		int port = freePort();

		assertThatThrownBy(() -> start(stack, port, "https://127.0.0.1:" + port, mutual))
			.hasRootCauseInstanceOf(InvalidConfigurationPropertyValueException.class)
			.rootCause()
			.hasMessageContaining("mcp.affinity.forwarding.ssl-bundle");

		mutual.addAll(List.of("spring.ssl.bundle.jks.instances.keystore.location=file:" + own.keyStore(),
				"spring.ssl.bundle.jks.instances.keystore.password=" + OwnerCertificate.PASSWORD,
				"spring.ssl.bundle.jks.instances.keystore.type=PKCS12"));
		mutual.removeIf((property) -> property.startsWith("spring.ssl.bundle.pem.instances"));
		mutual.addAll(List.of("spring.ssl.bundle.jks.instances.truststore.location=file:" + own.keyStore(),
				"spring.ssl.bundle.jks.instances.truststore.password=" + OwnerCertificate.PASSWORD,
				"spring.ssl.bundle.jks.instances.truststore.type=PKCS12"));
		try (ConfigurableApplicationContext instance = start(stack, port, "https://127.0.0.1:" + port, mutual)) {
			assertThat(output).contains("OwnCertificateChecked address=https://127.0.0.1:" + port);
		}
	}

	@ParameterizedTest
	@EnumSource(names = { "REACTIVE", "SERVLET" })
	void theCheckCanBeTurnedOff(WebApplicationType stack, @TempDir Path certificates, CapturedOutput output) {
		OwnerCertificate own = OwnerCertificate.create(certificates);
		int port = freePort();
		List<String> unchecked = new ArrayList<>(serving(own));
		unchecked.add("mcp.affinity.forwarding.check-own-certificate=false");
		try (ConfigurableApplicationContext instance = start(stack, port, "https://127.0.0.1:" + port, unchecked)) {
			assertThat(output).doesNotContain("OwnCertificateCheck");
		}
	}

	// A registered port where nothing listens yet (a TLS sidecar that starts later, say) cannot be checked: start-up
	// goes on and says so.
	@ParameterizedTest
	@EnumSource(names = { "REACTIVE", "SERVLET" })
	void aRegisteredPortWhereNothingListensIsNotCheckedAndStartUpGoesOn(WebApplicationType stack,
			@TempDir Path certificates, CapturedOutput output) {
		OwnerCertificate own = OwnerCertificate.create(certificates);
		int elsewhere = freePort();
		try (ConfigurableApplicationContext instance = start(stack, freePort(), "https://127.0.0.1:" + elsewhere,
				serving(own))) {
			assertThat(output).contains("OwnCertificateNotChecked address=https://127.0.0.1:" + elsewhere);
		}
	}

	private static ConfigurableApplicationContext start(WebApplicationType stack, int port, String address,
			List<String> properties) {
		return new SpringApplicationBuilder(Instance.class).web(stack)
			.properties("server.port=" + port, "server.address=127.0.0.1", "mcp.affinity.store=memory",
					"mcp.affinity.local-server-address=" + address, "spring.main.banner-mode=off",
					"logging.level.io.mcp.affinity.autoconfigure.OwnCertificateCheck=debug",
					OwnerForwardingTests.NO_SECURITY)
			.properties(properties.toArray(String[]::new))
			.run();
	}

	// The server's https, from its key store; and more.
	private static List<String> serving(OwnerCertificate own, List<String> more) {
		List<String> properties = new ArrayList<>(serving(own));
		properties.addAll(more);
		return properties;
	}

	private static List<String> serving(OwnerCertificate own) {
		return List.of("server.ssl.bundle=own", "spring.ssl.bundle.jks.own.keystore.location=file:" + own.keyStore(),
				"spring.ssl.bundle.jks.own.keystore.password=" + OwnerCertificate.PASSWORD,
				"spring.ssl.bundle.jks.own.keystore.type=PKCS12");
	}

	// A forwarding bundle "instances" that trusts the certificate.
	private static List<String> trusting(OwnerCertificate certificate) {
		return List.of("spring.ssl.bundle.pem.instances.truststore.certificate=file:" + certificate.certificate(),
				"mcp.affinity.forwarding.ssl-bundle=instances");
	}

	private static int freePort() {
		try (ServerSocket socket = new ServerSocket(0)) {
			return socket.getLocalPort();
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	@Configuration(proxyBeanMethods = false)
	@EnableAutoConfiguration
	static class Instance {

	}

}
