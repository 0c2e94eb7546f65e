# The test-server scripts on a machine that lacks a server: a newcomer's first build.ps1 Test
# must name the missing program and the Debian package that provides it.
Describe 'Starting the test servers on a machine without them' {
    BeforeAll {
        $script:servers = Join-Path $PSScriptRoot '../servers'
    }

    It 'names <Program> and its package <Package> when it is not installed' -ForEach @(
        @{ Script = 'redis.server.ps1'; Program = 'redis-server'; Package = 'redis-server' }
        @{ Script = 'etcd.server.ps1'; Program = 'etcd'; Package = 'etcd-server' }
        @{ Script = 'mariadb.server.ps1'; Program = 'mariadbd'; Package = 'mariadb-server' }
        # The server installed, its client not.
        @{ Script = 'mariadb.server.ps1'; Program = 'mariadb'; Package = 'mariadb-client'; Installed = 'mariadbd', 'mariadb-install-db' }
    ) {
        $state = Join-Path ([IO.Path]::GetTempPath()) ([guid]::NewGuid())
        $emptyPath = Join-Path $state 'bin'
        New-Item -ItemType Directory $emptyPath -Force | Out-Null
        foreach ($tool in $(if ($_.ContainsKey('Installed')) { $_.Installed })) {
            $source = Get-Command $tool -CommandType Application | Select-Object -First 1 -ExpandProperty Source
            New-Item -ItemType SymbolicLink -Path (Join-Path $emptyPath $tool) -Target $source | Out-Null
        }
        $path = $env:PATH
        try {
            # As build.ps1 runs them: under strict mode; here with a PATH that lacks the server.
            $env:PATH = $emptyPath
            $start = { Set-StrictMode -Version Latest; & (Join-Path $servers $Script) -Action Start -StateDir $state }
            $start | Should -Throw -ExpectedMessage "*$Program is not installed (Debian package $Package;*"
        }
        finally {
            $env:PATH = $path
            Remove-Item $state -Recurse -Force -ErrorAction SilentlyContinue
        }
    }
}
