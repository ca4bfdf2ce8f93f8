import { describe, expect, it } from 'vitest';
import { bundledComponents, isComponentFile, parseGitmodules } from '../../pipeline/source/bundled-components.ts';

const GITMODULES = `[submodule "CryptoPkg/Library/OpensslLib/openssl"]
	path = CryptoPkg/Library/OpensslLib/openssl
	url = https://example.org/openssl/openssl
[submodule "UnitTestFrameworkPkg/Library/CmockaLib/cmocka"]
	path = UnitTestFrameworkPkg/Library/CmockaLib/cmocka
	url = https://example.org/cmocka.git
[submodule "MdeModulePkg/Universal/RegularExpressionDxe/oniguruma"]
	path = MdeModulePkg/Universal/RegularExpressionDxe/oniguruma
	url = https://example.org/oniguruma
[submodule "MdeModulePkg/Library/BrotliCustomDecompressLib/brotli"]
	path = MdeModulePkg/Library/BrotliCustomDecompressLib/brotli
	url = https://example.org/brotli
[submodule "CryptoPkg/Library/MbedTlsLib/mbedtls"]
	path = CryptoPkg/Library/MbedTlsLib/mbedtls
	url = https://example.org/mbedtls
[submodule "MdePkg/Library/BaseFdtLib/libfdt"]
	path = MdePkg/Library/BaseFdtLib/libfdt
	url = https://example.org/pylibfdt.git
`;

const files = new Map([
  ['.gitmodules', GITMODULES],
  ['CryptoPkg/Library/OpensslLib/openssl/VERSION.dat', 'MAJOR=3\nMINOR=4\nPATCH=0\nPRE_RELEASE_TAG=\n'],
  ['MdeModulePkg/Library/BrotliCustomDecompressLib/brotli/c/common/version.h', '#define BROTLI_VERSION 0x1000009\n'],
  ['CryptoPkg/Library/MbedTlsLib/mbedtls/include/mbedtls/build_info.h', '#define MBEDTLS_VERSION_STRING         "3.3.0"\n'],
]);
const paths = [...files.keys(), 'MdePkg/Library/BaseFdtLib/libfdt/libfdt/fdt.h', 'UnitTestFrameworkPkg/Library/CmockaLib/cmocka/x.c'];

describe('bundled components of an edk2 tree', () => {
  it('reads every submodule path and url from .gitmodules', () => {
    expect(parseGitmodules(GITMODULES).map((m) => m.path)).toHaveLength(6);
    expect(parseGitmodules(GITMODULES)[0]).toEqual({ path: 'CryptoPkg/Library/OpensslLib/openssl', url: 'https://example.org/openssl/openssl' });
  });

  it('lists the libraries present with the versions they state, leaving out empty and test-only submodules', () => {
    expect(bundledComponents(files, paths)).toEqual([
      { name: 'mbedtls', path: 'CryptoPkg/Library/MbedTlsLib/mbedtls', url: 'https://example.org/mbedtls', version: '3.3.0' },
      { name: 'openssl', path: 'CryptoPkg/Library/OpensslLib/openssl', url: 'https://example.org/openssl/openssl', version: '3.4.0' },
      { name: 'brotli', path: 'MdeModulePkg/Library/BrotliCustomDecompressLib/brotli', url: 'https://example.org/brotli', version: '1.0.9' },
      { name: 'libfdt', path: 'MdePkg/Library/BaseFdtLib/libfdt', url: 'https://example.org/pylibfdt.git', version: undefined },
    ]);
  });

  it('asks the source scan for .gitmodules and the version files only', () => {
    expect(isComponentFile('.gitmodules')).toBe(true);
    expect(isComponentFile('CryptoPkg/Library/OpensslLib/openssl/VERSION.dat')).toBe(true);
    expect(isComponentFile('CryptoPkg/Library/OpensslLib/openssl/crypto/aes/aes_core.c')).toBe(false);
  });
});
