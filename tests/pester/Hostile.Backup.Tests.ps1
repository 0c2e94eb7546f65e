# Hostile input for file databases, backups and restore, through the cmdlets: each case is
# refused with its error id, names the culprit, leaves the data byte for byte as it was, and
# shows the test secret (a Redis user's password, and a value in the database) nowhere.
BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SecretSupport.ps1"

    $script:Secret = "hostile-$([guid]::NewGuid().ToString('N'))"
    $script:User = "hostile-backup-$([guid]::NewGuid().ToString('N'))"
    Invoke-RedisCli 0 ACL SETUSER $script:User on ">$script:Secret" '~*' '+@all' | Out-Null

    # Three objects, one holding the secret; as plain lines.
    $script:Lines = @(
        '{"table":"lport","topic":"t1","id":"p1","value":{"id": "p1", "topic": "t1", "profile": {"password": "' + $script:Secret + '"}}}'
        '{"table":"lswitch","topic":"t1","id":"s1","value":{"id": "s1", "topic": "t1", "mtu": 1450}}'
        '{"table":"unique_key","topic":null,"id":"lport","value":17}'
    )
    function Get-Hash([string] $Path) { (Get-FileHash -Algorithm SHA256 -LiteralPath $Path).Hash }
    function ConvertTo-Gzip([byte[]] $Bytes) {
        $buffer = [IO.MemoryStream]::new()
        $gz = [IO.Compression.GZipStream]::new($buffer, [IO.Compression.CompressionLevel]::Optimal, $true)
        $gz.Write($Bytes, 0, $Bytes.Length); $gz.Dispose()
        , $buffer.ToArray()
    }
    # A file database holding the three objects under a backup header (taken with the module).
    function New-BackupFile([string] $Path, [string] $Source) {
        $plain = Join-Path (Split-Path $Path) "plain-$([guid]::NewGuid().ToString('N')).jsonl"
        Set-Content -LiteralPath $plain -Value $script:Lines
        Backup-DfNbDatabase -Database $plain -Path $Path | Out-Null
        Remove-Item -LiteralPath $plain
        if ($Source) {
            $text = [IO.File]::ReadAllText($Path) -replace '"source":"[^"]*"', "`"source`":`"$Source`""
            [IO.File]::WriteAllText($Path, $text)
        }
    }
    # Neither the error nor any stream nor any file under $Folder but the test's own inputs shows the secret.
    function Assert-NoSecret($Captured, [string] $Folder, [string[]] $Inputs = @()) {
        $Captured.Text | Should -Not -BeLike "*$script:Secret*"
        Get-ChildItem -LiteralPath $Folder -Recurse -File | Where-Object FullName -NotIn $Inputs | ForEach-Object {
            $s = [IO.File]::OpenRead($_.FullName)
            if ($_.Name -like '*.gz') { $s = [IO.Compression.GZipStream]::new($s, 'Decompress') }
            try { [IO.StreamReader]::new($s).ReadToEnd() | Should -Not -BeLike "*$script:Secret*" } finally { $s.Dispose() }
        }
    }
}

AfterAll { Invoke-RedisCli 0 ACL DELUSER $script:User | Out-Null }

Describe 'A damaged file database' {
    It 'is refused when backed up: <Name>' -ForEach @(
        @{ Name = 'a .jsonl.gz without its gzip trailer'; File = 'nb.jsonl.gz'; Line = 0; Says = '*gzip*'
           Make = { param($p) $z = ConvertTo-Gzip ([Text.Encoding]::UTF8.GetBytes(($script:Lines -join "`n") + "`n")); [IO.File]::WriteAllBytes($p, $z[0..($z.Length - 9)]) } }
        @{ Name = 'invalid UTF-8 in line 2'; File = 'nb.jsonl'; Line = 2; Says = '*not UTF-8*'
           Make = { param($p) $l = $script:Lines.Clone(); $l[1] = $l[1].Replace('1450', '14_0')
                $b = [Text.Encoding]::UTF8.GetBytes(($l -join "`n") + "`n"); $b[[Array]::IndexOf($b, [byte]0x5F)] = 0xFF; [IO.File]::WriteAllBytes($p, $b) } }
        @{ Name = 'a header count edited'; File = 'nb.jsonl'; Line = 0; Says = '*header says 9*'
           Make = { param($p) New-BackupFile $p; [IO.File]::WriteAllText($p, ([IO.File]::ReadAllText($p) -replace '"objects":3', '"objects":9')) } }
        @{ Name = 'a value edited under a backup header'; File = 'nb.jsonl'; Line = 0; Says = '*does not match the checksum*'
           Make = { param($p) New-BackupFile $p; [IO.File]::WriteAllText($p, ([IO.File]::ReadAllText($p) -replace '1450', '9000')) } }
        @{ Name = 'a key stored twice'; File = 'nb.jsonl'; Line = 4; Says = '*stored again, first on line 2*'
           Make = { param($p) Set-Content -LiteralPath $p -Value ($script:Lines + $script:Lines[1]) } }
        @{ Name = 'a line cut short'; File = 'nb.jsonl'; Line = 3; Says = '*not valid JSON*'
           Make = { param($p) [IO.File]::WriteAllText($p, (($script:Lines -join "`n").Substring(0, ($script:Lines -join "`n").Length - 12))) } }
    ) {
        $folder = Join-Path $TestDrive ([guid]::NewGuid()); New-Item -ItemType Directory $folder | Out-Null
        $db = Join-Path $folder $File
        & $Make $db
        $before = Get-Hash $db
        $r = Invoke-Captured { Backup-DfNbDatabase -Database $db -Path (Join-Path $folder 'b.jsonl.gz') }
        $r.Error.FullyQualifiedErrorId | Should -BeLike 'NbFileInvalid*'
        $r.Error.Exception.Message | Should -BeLike ($(if ($Line) { "*$db, line $($Line):*" } else { "*$($db):*" }))
        $r.Error.Exception.Message | Should -BeLike $Says
        $r.Error.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        Get-Hash $db | Should -Be $before
        Join-Path $folder 'b.jsonl.gz' | Should -Not -Exist
        Assert-NoSecret $r $folder $db
    }

    It 'written by Windows PowerShell''s Out-File (a byte order mark, CRLF) is read' {
        $folder = Join-Path $TestDrive ([guid]::NewGuid()); New-Item -ItemType Directory $folder | Out-Null
        $db = Join-Path $folder 'nb.jsonl'
        [IO.File]::WriteAllText($db, ($script:Lines -join "`r`n") + "`r`n", [Text.UTF8Encoding]::new($true))
        $before = Get-Hash $db
        (Backup-DfNbDatabase -Database $db -Path (Join-Path $folder 'b.jsonl.gz')).Objects | Should -Be 3
        Get-Hash $db | Should -Be $before
    }
}

Describe 'A bad backup path' {
    It 'is refused before anything is read: <Name>' -ForEach @(
        @{ Name = 'Backup-DfNbDatabase -Path the database itself'; Cmd = 'backup'; Target = { param($db, $folder) $db } }
        @{ Name = 'Backup-DfNbDatabase -Path a .txt file'; Cmd = 'backup'; Target = { param($db, $folder) Join-Path $folder 'notes.txt' } }
        @{ Name = 'Invoke-DfMigration -BackupPath the database itself'; Cmd = 'migrate'; Target = { param($db, $folder) $db } }
        @{ Name = 'Invoke-DfMigration -BackupPath the database''s lock file'; Cmd = 'migrate'; Target = { param($db, $folder) "$db.lock" } }
    ) {
        $folder = Join-Path $TestDrive ([guid]::NewGuid()); New-Item -ItemType Directory $folder | Out-Null
        $db = Join-Path $folder 'nb.jsonl'
        Set-Content -LiteralPath $db -Value $script:Lines
        Set-DfMigrationBaseline -Database $db -Release pike | Out-Null
        $before = Get-Hash $db
        $path = & $Target $db $folder
        $r = if ($Cmd -eq 'backup') { Invoke-Captured { Backup-DfNbDatabase -Database $db -Path $path } }
             else { Invoke-Captured { Invoke-DfMigration -Database $db -TargetRelease queens -BackupPath $path -Confirm:$false } }
        $r.Error.FullyQualifiedErrorId | Should -BeLike 'BackupPathInvalid*'
        $r.Error.Exception.Message | Should -BeLike "*'$path'*"
        $r.Error.TargetObject | Should -Be $path
        Get-Hash $db | Should -Be $before
        @(Get-ChildItem -LiteralPath $folder -Recurse -File).Name | Should -Be @('nb.jsonl')
        Assert-NoSecret $r $folder $db
    }
}

Describe 'A backup from another database' {
    It 'is refused unless -Force: <Name>' -ForEach @(
        @{ Name = 'taken from a file database'; Source = $null }
        @{ Name = 'its source edited, a password in it'; Source = 'redis://admin:SECRET@10.0.0.9:6379/3' }
    ) {
        $folder = Join-Path $TestDrive ([guid]::NewGuid()); New-Item -ItemType Directory $folder | Out-Null
        $backup = Join-Path $folder 'b.jsonl'
        New-BackupFile $backup ($Source -replace 'SECRET', $script:Secret)
        $target = (New-TestRedis 30) -replace 'redis://', "redis://$($script:User):$($script:Secret)@"
        Invoke-RedisCli 30 SET '{lport.t9}.p9' '{"id": "p9"}' | Out-Null
        $before = Get-RedisDump 30
        $r = Invoke-Captured { Restore-DfNbDatabase -Database $target -Path $backup -Confirm:$false }
        $r.Error.FullyQualifiedErrorId | Should -BeLike 'BackupFromOtherDatabase*'
        $r.Error.Exception.Message | Should -BeLike "*$backup*was taken from*not from redis://*/30*"
        $r.Error.ErrorDetails.RecommendedAction | Should -BeLike '*-Force*'
        Get-RedisDump 30 | Should -BeExactly $before
        Assert-NoSecret $r $folder $backup
        Restore-DfNbDatabase -Database $target -Path $backup -Force -Confirm:$false | Out-Null
        (Get-RedisDump 30) -split "`n" | Should -HaveCount 3
    }
}

Describe 'A stored value a backup could not give back' {
    It 'is refused naming its key, and no backup is written: <Name>' -ForEach @(
        @{ Name = 'an empty value'; Key = '{lport.t1}.bad'; Value = ''; Says = '*lport/bad (topic t1)*is empty*' }
        @{ Name = 'text that is not JSON'; Key = '{lport.t1}.bad'; Value = 'port is up'; Says = '*lport/bad (topic t1)*not one valid JSON value*' }
        @{ Name = 'a pretty-printed value'; Key = '{lport.t1}.bad'; Value = "{`n  `"id`": `"bad`"`n}"; Says = '*lport/bad (topic t1)*holds a line break (at byte 1)*' }
        @{ Name = 'a counter with a space after it'; Key = '{unique_key.}.lport'; Value = '17 '; Says = '*unique_key/lport*spacing before or after its JSON value*' }
        @{ Name = 'an object under an empty id'; Key = '{lport.}.'; Value = '{"id": ""}'; Says = '*lport/ *empty id*' }
    ) {
        $folder = Join-Path $TestDrive ([guid]::NewGuid()); New-Item -ItemType Directory $folder | Out-Null
        $db = (New-TestRedis 31) -replace 'redis://', "redis://$($script:User):$($script:Secret)@"
        Invoke-RedisCli 31 SET '{lswitch.t1}.s1' "{`"id`": `"s1`", `"password`": `"$script:Secret`"}" | Out-Null
        Invoke-RedisCli 31 SET $Key $Value | Out-Null
        $before = Get-RedisDump 31
        $r = Invoke-Captured { Backup-DfNbDatabase -Database $db -Path (Join-Path $folder 'b.jsonl.gz') }
        $r.Error.FullyQualifiedErrorId | Should -BeLike 'NbValueInvalid*'
        $r.Error.Exception.Message | Should -BeLike $Says
        Get-RedisDump 31 | Should -BeExactly $before
        Join-Path $folder 'b.jsonl.gz' | Should -Not -Exist
        Assert-NoSecret $r $folder
    }
}
