package io.mcp.affinity.core.test;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.KeyManagerFactory;

/**
 * A self-signed certificate for an instance (or a stand-in owner) that serves https on loopback, its own certificate
 * authority, as a private CA's certificate for an instance's IP address is: made with the JDK's keytool at test time
 * (no key material kept in the repository), valid for a day, for 127.0.0.1 unless other names are asked for.
 */
public final class OwnerCertificate {

	/** The password of the key store and of its key. */
	public static final String PASSWORD = "owner-test-password";

	private final Path keyStore;

	private final Path certificate;

	private OwnerCertificate(Path keyStore, Path certificate) {
		this.keyStore = keyStore;
		this.certificate = certificate;
	}

	/**
	 * Makes the key pair and its certificate, for 127.0.0.1.
	 * @param directory where the key store and the certificate (PEM) are written
	 * @return the certificate
	 */
	public static OwnerCertificate create(Path directory) {
		return create(directory, "ip:127.0.0.1");
	}

	/**
	 * Makes the key pair and its certificate, for the names given.
	 * @param directory where the key store and the certificate (PEM) are written
	 * @param subjectAlternativeNames keytool's {@code san} extension, e.g. {@code dns:owner.example}
	 * @return the certificate
	 */
	public static OwnerCertificate create(Path directory, String subjectAlternativeNames) {
		Path keyStore = directory.resolve("owner.p12");
		Path certificate = directory.resolve("owner.pem");
		keytool(directory, "-genkeypair", "-alias", "owner", "-keyalg", "EC", "-groupname", "secp256r1", "-validity",
				"1", "-dname", "CN=mcp-affinity test owner", "-ext", "san=" + subjectAlternativeNames, "-storetype",
				"PKCS12", "-keystore", keyStore.toString(), "-storepass", PASSWORD, "-keypass", PASSWORD);
		keytool(directory, "-exportcert", "-rfc", "-alias", "owner", "-keystore", keyStore.toString(), "-storepass",
				PASSWORD, "-file", certificate.toString());
		return new OwnerCertificate(keyStore, certificate);
	}

	private static void keytool(Path directory, String... arguments) {
		List<String> command = new ArrayList<>();
		command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
		command.addAll(List.of(arguments));
		Path log = directory.resolve("keytool.log");
		try {
			// Nothing to read from: a keytool that asked for input would fail rather than wait.
			Process process = new ProcessBuilder(command)
				.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
				.redirectErrorStream(true)
				.redirectOutput(log.toFile())
				.start();
			if (!process.waitFor(30, TimeUnit.SECONDS)) {
				process.destroyForcibly();
				throw new IllegalStateException("keytool did not finish within 30 s: " + Files.readString(log));
			}
			if (process.exitValue() != 0) {
				throw new IllegalStateException("keytool failed: " + Files.readString(log));
			}
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IllegalStateException(ex);
		}
	}

	/** The certificate, PEM-encoded: what a client's trust store holds. */
	public Path certificate() {
		return this.certificate;
	}

	/**
	 * A trust store (PKCS12) that holds the certificate alone, as a trusted entry: what a Tomcat server that asks for
	 * client certificates needs (a key store's key entry does not count as trusted there). Made at the first call.
	 * @return the trust store
	 */
	public synchronized Path trustStore() {
		Path trustStore = this.keyStore.resolveSibling("owner-trust.p12");
		if (!Files.exists(trustStore)) {
			keytool(this.keyStore.getParent(), "-importcert", "-noprompt", "-alias", "owner", "-file",
					this.certificate.toString(), "-storetype", "PKCS12", "-keystore", trustStore.toString(),
					"-storepass", PASSWORD);
		}
		return trustStore;
	}

	/** The key store (PKCS12) that holds the key and its certificate. */
	public Path keyStore() {
		return this.keyStore;
	}

	/** The owner's key and certificate, for its server. */
	public KeyManagerFactory keyManagers() {
		try (InputStream in = Files.newInputStream(this.keyStore)) {
			KeyStore store = KeyStore.getInstance("PKCS12");
			store.load(in, PASSWORD.toCharArray());
			KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
			factory.init(store, PASSWORD.toCharArray());
			return factory;
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		catch (GeneralSecurityException ex) {
			throw new IllegalStateException(ex);
		}
	}

}
