# Hostile file layouts through the cmdlets: a file database reached through a symbolic link, and
# backup paths that name files already there. Each leaves every other file byte for byte as it was.
BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    $script:Lines = @(
        '{"table":"lswitch","topic":"t1","id":"s1","value":{"id": "s1", "topic": "t1", "mtu": 1450}}'
        '{"table":"unique_key","topic":null,"id":"lport","value":17}'
    )
    function Get-Hash([string] $Path) { (Get-FileHash -Algorithm SHA256 -LiteralPath $Path).Hash }
    function New-Folder { $f = Join-Path $TestDrive ([guid]::NewGuid()); New-Item -ItemType Directory $f | Out-Null; (Resolve-Path $f).ProviderPath }
    function New-Database([string] $Path) {
        Set-Content -LiteralPath $Path -Value $script:Lines
        Set-DfMigrationBaseline -Database $Path -Release pike | Out-Null
    }
}

Describe 'A file database reached through a symbolic link' {
    It 'is migrated in the file the link names, and the link is kept' {
        $folder = New-Folder
        $real = Join-Path $folder 'real/nb.jsonl'
        New-Item -ItemType Directory (Split-Path $real) | Out-Null
        Copy-Item -LiteralPath "$PSScriptRoot/../fixtures/pike-nb.jsonl" $real
        Set-DfMigrationBaseline -Database $real -Release pike | Out-Null
        $link = Join-Path $folder 'nb.jsonl'
        New-Item -ItemType SymbolicLink -Path $link -Target $real | Out-Null
        $before = Get-Hash $real
        Invoke-DfMigration -Database $link -TargetRelease queens -BackupPath (Join-Path $folder 'bk/') -Force -Confirm:$false | Out-Null
        (Get-Item -LiteralPath $link).LinkType | Should -Be 'SymbolicLink'
        (Get-Item -LiteralPath $link).Target | Should -Be $real
        Get-Hash $real | Should -Not -Be $before
        @(Get-ChildItem -LiteralPath (Join-Path $folder 'bk') -Filter '*.jsonl.gz' | Where-Object Name -NotLike '*.journal.*').Count | Should -Be 1
    }

    It 'is refused as its own backup, named through the link: <Name>' -ForEach @(
        @{ Name = 'database the link, backup the real file'; ViaLink = $true }
        @{ Name = 'database the real file, backup the link'; ViaLink = $false }
    ) {
        $folder = New-Folder
        $real = Join-Path $folder 'r/db2.jsonl'
        New-Item -ItemType Directory (Split-Path $real) | Out-Null
        New-Database $real
        New-Item -ItemType SymbolicLink -Path (Join-Path $folder 'L') -Target (Split-Path $real) | Out-Null
        $link = Join-Path $folder 'L/db2.jsonl'
        $db, $backup = if ($ViaLink) { $link, $real } else { $real, $link }
        $before = Get-Hash $real
        $err = $null
        try { Invoke-DfMigration -Database $db -TargetRelease queens -BackupPath $backup -Force -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'BackupPathInvalid*'
        $err.Exception.Message | Should -BeLike '*the database file itself*'
        Get-Hash $real | Should -Be $before
    }
}

Describe 'A backup path naming a file that exists' {
    It 'is refused by Backup-DfNbDatabase unless -Force' {
        $folder = New-Folder
        $db1 = Join-Path $folder 'db1.jsonl'; New-Database $db1
        $db4 = Join-Path $folder 'db4.jsonl'; New-Database $db4
        Add-Content -LiteralPath $db4 -Value '{"table":"lport","topic":"t1","id":"p1","value":{"id": "p1"}}'
        $before = Get-Hash $db1
        $err = $null
        try { Backup-DfNbDatabase -Database $db4 -Path $db1 } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'BackupPathInvalid*'
        $err.Exception.Message | Should -BeLike "*'$db1' already exists*"
        Get-Hash $db1 | Should -Be $before
        Backup-DfNbDatabase -Database $db4 -Path $db1 -Force | Out-Null
        Get-Hash $db1 | Should -Not -Be $before
    }

    It 'is refused by Invoke-DfMigration, and the old backup and its journal are kept' {
        $folder = New-Folder
        $db = Join-Path $folder 'nb.jsonl'; New-Database $db
        $keep = Join-Path $folder 'bk/keep.jsonl.gz'
        New-Item -ItemType Directory (Split-Path $keep) | Out-Null
        Backup-DfNbDatabase -Database $db -Path $keep | Out-Null
        Set-Content -LiteralPath (Join-Path $folder 'bk/keep.journal.jsonl.gz') -Value 'journal'
        $hashes = Get-ChildItem -LiteralPath $folder -Recurse -File | ForEach-Object { "$($_.FullName) $(Get-Hash $_.FullName)" }
        $err = $null
        try { Invoke-DfMigration -Database $db -TargetRelease queens -BackupPath $keep -Force -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'BackupPathInvalid*'
        Get-ChildItem -LiteralPath $folder -Recurse -File | ForEach-Object { "$($_.FullName) $(Get-Hash $_.FullName)" } | Should -Be $hashes
    }

    It 'is refused by Invoke-DfMigration before anything is read when a folder has its journal''s name' {
        $folder = New-Folder
        $db = Join-Path $folder 'nb.jsonl'; New-Database $db
        New-Item -ItemType Directory (Join-Path $folder 'bk/new.journal.jsonl.gz') | Out-Null
        $before = Get-Hash $db
        $err = $null
        try { Invoke-DfMigration -Database $db -TargetRelease queens -BackupPath (Join-Path $folder 'bk/new.jsonl.gz') -Force -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'BackupPathInvalid*'
        $err.Exception.Message | Should -BeLike '*has a folder beside it where its journal goes (new.journal.jsonl.gz)*Nothing was read or written.'
        Get-Hash $db | Should -Be $before
        @(Get-ChildItem -LiteralPath (Join-Path $folder 'bk') -Recurse).Name | Should -Be 'new.journal.jsonl.gz'
    }
}
